import twilio from 'twilio';
import { statusCallbackEvents } from '../../src/calls/status-callback-url';
import { OutdialTestStack, pollFor } from '../helpers/outdial';

const sid = (n: number) => `CA${n.toString(16).padStart(32, '0')}`;

describe('POST /v1/twilio/status', () => {
  let stack: OutdialTestStack;
  let businessId: string;

  beforeAll(async () => {
    stack = await OutdialTestStack.start();
    businessId = (await stack.createBusiness()).id;
  });
  afterAll(async () => {
    await stack.stop();
  });

  /** A reserved direct call whose create response has not come back yet (no SID known). */
  async function reservedCall(): Promise<string> {
    const r = await stack.database.pool.query(
      "INSERT INTO calls (business_id, direction, status, to_number, from_number) VALUES ($1, 'direct', 'reserved', '+14155550100', '+15005550006') RETURNING id",
      [businessId],
    );
    return r.rows[0].id;
  }

  async function callback(callId: string, params: Record<string, string>, opts: { signature?: string | null } = {}) {
    const path = `/v1/twilio/status?callId=${callId}`;
    const signature = opts.signature === undefined ? twilio.getExpectedTwilioSignature(stack.carrier.authToken, stack.apiUrl + path, params) : opts.signature;
    const res = await fetch(stack.apiUrl + path, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...(signature ? { 'x-twilio-signature': signature } : {}) },
      body: new URLSearchParams(params).toString(),
    });
    return res.status;
  }

  const row = async (callId: string) =>
    (await stack.database.pool.query('SELECT status, twilio_call_sid, last_sequence_number FROM calls WHERE id = $1', [callId])).rows[0];

  test('a missing signature is 400, a bad one 403, and neither changes the call', async () => {
    const callId = await reservedCall();
    const params = { CallSid: sid(1), CallStatus: 'completed', SequenceNumber: '3' };
    expect(await callback(callId, params, { signature: null })).toBe(400);
    expect(await callback(callId, params, { signature: 'bm90IGEgc2lnbmF0dXJl' })).toBe(403);
    // Signed for other parameters (tampered in transit).
    const forged = twilio.getExpectedTwilioSignature(stack.carrier.authToken, `${stack.apiUrl}/v1/twilio/status?callId=${callId}`, { ...params, CallStatus: 'ringing' });
    expect(await callback(callId, params, { signature: forged })).toBe(403);
    expect(await row(callId)).toEqual({ status: 'reserved', twilio_call_sid: null, last_sequence_number: null });
  });

  test('a callback that beats the create response is matched by our call ID and teaches us the SID', async () => {
    const callId = await reservedCall();
    expect(await callback(callId, { CallSid: sid(2), CallStatus: 'initiated', SequenceNumber: '0' })).toBe(204);
    expect(await row(callId)).toEqual({ status: 'initiated', twilio_call_sid: sid(2), last_sequence_number: 0 });
  });

  test('duplicates and out-of-order callbacks never move a call backwards or out of a terminal state', async () => {
    const callId = await reservedCall();
    const at = (status: string, seq: number) => ({ CallSid: sid(3), CallStatus: status, SequenceNumber: String(seq) });
    expect(await callback(callId, at('ringing', 1))).toBe(204);
    expect(await callback(callId, at('initiated', 0))).toBe(204);
    expect((await row(callId)).status).toBe('ringing');
    expect(await callback(callId, { ...at('completed', 3), CallDuration: '12' })).toBe(204);
    expect(await callback(callId, at('in-progress', 2))).toBe(204);
    expect(await callback(callId, { ...at('completed', 3), CallDuration: '12' })).toBe(204);
    const final = await stack.database.pool.query('SELECT status, duration_seconds, ended_at IS NOT NULL AS ended FROM calls WHERE id = $1', [callId]);
    expect(final.rows[0]).toEqual({ status: 'completed', duration_seconds: 12, ended: true });
  });

  test('a callback for an unknown call is 404; one with a bad status is 400', async () => {
    expect(await callback('00000000-0000-4000-8000-000000000000', { CallSid: sid(4), CallStatus: 'completed' })).toBe(404);
    const callId = await reservedCall();
    expect(await callback(callId, { CallSid: sid(5), CallStatus: 'answered' })).toBe(400);
    expect((await row(callId)).status).toBe('reserved');
  });

  test('a callback answered 2xx writes no request log line at info; a refused one still does', async () => {
    const requestLines = (callId: string) => stack.logs.filter((l) => typeof (l.req as { url?: string } | undefined)?.url === 'string' && (l.req as { url: string }).url.includes(callId));
    const answered = await reservedCall();
    expect(await callback(answered, { CallSid: sid(6), CallStatus: 'initiated' })).toBe(204);
    const unknown = '00000000-0000-4000-8000-000000000006';
    expect(await callback(unknown, { CallSid: sid(7), CallStatus: 'completed' })).toBe(404);
    // The 404's line comes after the 204's would have (each response had finished before the next request).
    const refused = await pollFor(async () => requestLines(unknown), (lines) => lines.length > 0);
    expect(refused.map((l) => (l.res as { statusCode: number }).statusCode)).toEqual([404]);
    expect(requestLines(answered)).toEqual([]);
  });

  test('callbacks are verified against the URL the carrier was given, even after PUBLIC_HOST changes', async () => {
    stack.carrier.setScripts([{ to: '+14155550180', outcome: 'hold' }]);
    const original = stack.config.publicHost.configured;
    const business = await stack.createBusiness();
    try {
      const placed = await stack.api<{ call: { id: string; twilioCallSid: string } }>('POST', `/v1/businesses/${business.id}/calls`, { to: '+14155550180' });
      expect(placed.status).toBe(201);
      await stack.carrier.waitForCall(placed.body.call.twilioCallSid, 'in-progress');
      stack.config.publicHost.configured = 'https://moved.example.com';
      // Signed over the new host: not the URL this call's callbacks come to, so refused.
      const forged = { CallSid: placed.body.call.twilioCallSid, CallStatus: 'completed', SequenceNumber: '9' };
      const path = `/v1/twilio/status?callId=${placed.body.call.id}`;
      const signature = twilio.getExpectedTwilioSignature(stack.carrier.authToken, `https://moved.example.com${path}`, forged);
      expect(await callback(placed.body.call.id, forged, { signature })).toBe(403);
      // The carrier's real callbacks, signed over the URL it was given, still settle the call.
      stack.carrier.releaseAll();
      await stack.carrier.waitForCallbacks(statusCallbackEvents(false).length, { callSid: placed.body.call.twilioCallSid });
      const callbacks = stack.carrier.callbacks({ callSid: placed.body.call.twilioCallSid });
      expect(callbacks.map((c) => c.responseStatus)).toEqual(statusCallbackEvents(false).map(() => 204));
      expect((await row(placed.body.call.id)).status).toBe('completed');
    } finally {
      stack.config.publicHost.configured = original;
      stack.carrier.setScripts([]);
    }
  });

  test('ringing callbacks only when TWILIO_RINGING_CALLBACKS is on: the call is asked for them, and they land as ringing', async () => {
    const business = await stack.createBusiness();
    const place = async (to: string) => {
      const placed = await stack.api<{ call: { id: string; twilioCallSid: string } }>('POST', `/v1/businesses/${business.id}/calls`, { to });
      expect(placed.status).toBe(201);
      await stack.carrier.waitForCallbacks(statusCallbackEvents(stack.config.twilio.ringingCallbacks).length, { callSid: placed.body.call.twilioCallSid });
      return placed.body.call.twilioCallSid;
    };
    const quiet = await place('+14155550181');
    stack.config.twilio.ringingCallbacks = true;
    try {
      const ringing = await place('+14155550182');
      const events = (callSid: string) => stack.carrier.callbacks({ callSid }).map((c) => [c.event, c.responseStatus]);
      expect(events(quiet)).toEqual([['answered', 204], ['completed', 204]]);
      expect(events(ringing)).toEqual([['ringing', 204], ['answered', 204], ['completed', 204]]);
      expect(stack.carrier.call(ringing)?.statusCallbackEvents).toEqual(['ringing', 'answered', 'completed']);
    } finally {
      stack.config.twilio.ringingCallbacks = false;
    }
  });
});
