import twilio from 'twilio';
import type { TelephonyClient } from '../../src/telephony/client';
import { FROM, rejection, sdkFor, useCarrierFixture } from './helpers';

const fx = useCarrierFixture();
const ALL_EVENTS = ['initiated', 'ringing', 'answered', 'completed'];

function dial(to: string, c: TelephonyClient = fx.client) {
  return c.calls.create({ to, from: FROM, url: fx.receiver.twimlUrl(), statusCallback: `${fx.receiver.url}/status`, statusCallbackEvent: ALL_EVENTS });
}

describe('create faults', () => {
  test('5xx for the next N creates: nothing is created, the SDK does not retry', async () => {
    fx.carrier.injectFaults({ create5xx: { count: 2, status: 503 } });
    for (const to of ['+14155557001', '+14155557002']) {
      const err = await rejection(dial(to));
      expect(err).toBeInstanceOf(twilio.RestException);
      expect([err.status, err.code]).toEqual([503, 20503]);
    }
    expect(fx.carrier.calls()).toHaveLength(0);
    expect((await dial('+14155557003')).status).toBe('queued');
    expect(fx.carrier.requests().map((r) => r.status)).toEqual([503, 503, 201]);
  });

  test('a 5xx with created=true: the client sees 500, yet the call exists and runs to completion with its callbacks', async () => {
    fx.carrier.injectFaults({ create5xx: { count: 1, created: true } });
    const err = await rejection(dial('+14155557010'));
    expect([err.status, err.code]).toEqual([500, 20500]);
    const [view] = await fx.carrier.waitForCalls(1, { status: 'completed' });
    expect(view?.to).toBe('+14155557010');
    await fx.receiver.waitForCall(view!.sid, 4);
  });

  test('accept-then-timeout: the client times out, but the call was created, proceeds, and shows in a list', async () => {
    const impatient = sdkFor(fx.carrier, { timeoutMs: 150 });
    fx.carrier.injectFaults({ acceptThenTimeout: { delayMs: 2_000 } });
    const err = await rejection(dial('+14155557020', impatient));
    expect(err.message).toMatch(/timeout of 150ms exceeded/);
    const [view] = await fx.carrier.waitForCalls(1, { to: '+14155557020', status: 'completed' });
    // The carrier's record says completed a moment before that callback reaches the receiver.
    const callbacks = await fx.receiver.waitForCall(view!.sid, 4);
    expect(callbacks.map((c) => c.params.CallStatus)).toEqual(['initiated', 'ringing', 'in-progress', 'completed']);
    // What a client reconciles with after an ambiguous create.
    expect((await fx.client.calls.list({ to: '+14155557020' })).map((c) => c.sid)).toEqual([view!.sid]);
    // The create request is logged with status 0: the client had gone before its response.
    await fx.carrier.waitFor(() => fx.carrier.requests().some((r) => r.method === 'POST' && r.status === 0));
  });

  test('per-number and queued create faults: a rule’s responseDelayMs and createFault, a queued 429 the SDK retries past', async () => {
    fx.carrier.setScripts([
      { to: '+14155557030', responseDelayMs: 2_000 },
      { to: '+14155557031', createFault: { status: 502 } },
    ]);
    const slow = await rejection(dial('+14155557030', sdkFor(fx.carrier, { timeoutMs: 150 })));
    expect(slow.message).toMatch(/timeout/);
    expect(fx.carrier.calls({ to: '+14155557030' })).toHaveLength(1);
    const broken = await rejection(dial('+14155557031'));
    expect([broken.status, broken.code]).toEqual([502, 20500]);
    expect(fx.carrier.calls({ to: '+14155557031' })).toHaveLength(0);

    fx.carrier.queueOutcomes([{ createFault: { status: 429 } }]);
    expect((await dial('+14155557032')).status).toBe('queued');
    expect(fx.carrier.requests().filter((r) => r.path.endsWith('/Calls.json')).map((r) => r.status).slice(-2)).toEqual([429, 201]);
  });
});

describe('callback faults', () => {
  test('drop: the chosen event never arrives, the others keep their SequenceNumbers', async () => {
    fx.carrier.injectFaults({ callbacks: { faults: [{ kind: 'drop', events: ['ringing'] }] } });
    const call = await dial('+14155557101');
    await fx.carrier.whenIdle();
    expect(fx.receiver.forCall(call.sid).map((c) => [c.params.CallStatus, c.params.SequenceNumber])).toEqual([
      ['initiated', '0'],
      ['in-progress', '2'],
      ['completed', '3'],
    ]);
    expect(fx.carrier.callbacks({ callSid: call.sid, result: 'dropped' }).map((r) => r.event)).toEqual(['ringing']);
  });

  test('duplicate: the same callback twice, same idempotency token and SequenceNumber', async () => {
    fx.carrier.queueOutcomes([{ outcome: 'busy', callbackFaults: [{ kind: 'duplicate', events: ['completed'] }] }]);
    const call = await dial('+14155557102');
    const got = await fx.receiver.waitForCall(call.sid, 4);
    expect(got.map((c) => c.params.CallStatus)).toEqual(['initiated', 'ringing', 'busy', 'busy']);
    expect(got[2]?.idempotencyToken).toBe(got[3]?.idempotencyToken);
    expect(got[2]?.params).toEqual(got[3]?.params);
    expect(got.every((c) => c.valid)).toBe(true);
  });

  test('reorder: held back until the call ends, then newest first', async () => {
    fx.carrier.setScripts([{ to: '+14155557103', callbackFaults: [{ kind: 'reorder' }] }]);
    const call = await dial('+14155557103');
    const got = await fx.receiver.waitForCall(call.sid, 4);
    expect(got.map((c) => c.params.SequenceNumber)).toEqual(['3', '2', '1', '0']);
    expect(got.map((c) => c.params.CallStatus)).toEqual(['completed', 'in-progress', 'ringing', 'initiated']);
    expect(got.every((c) => c.valid)).toBe(true);
  });

  test('delay: one callback waits, the later ones queue behind it (order is kept), the call itself is not slowed', async () => {
    fx.carrier.injectFaults({ callbacks: { faults: [{ kind: 'delay', ms: 200, events: ['ringing'] }] } });
    const call = await dial('+14155557104');
    const got = await fx.receiver.waitForCall(call.sid, 4);
    expect(got.map((c) => c.params.CallStatus)).toEqual(['initiated', 'ringing', 'in-progress', 'completed']);
    const records = fx.carrier.callbacks({ callSid: call.sid });
    const ringing = records.find((r) => r.event === 'ringing')!;
    expect(ringing.sentAt! - ringing.firedAt).toBeGreaterThanOrEqual(195);
    expect(fx.carrier.call(call.sid)!.endTime!).toBeLessThan(ringing.sentAt!);
  });

  test('omit-final: every callback but the terminal one; the call still ends at the carrier', async () => {
    fx.carrier.injectFaults({ callbacks: { faults: [{ kind: 'omit-final' }] } });
    const call = await dial('+14155557105');
    await fx.carrier.whenIdle();
    expect(fx.receiver.forCall(call.sid).map((c) => c.params.CallStatus)).toEqual(['initiated', 'ringing', 'in-progress']);
    expect(fx.carrier.call(call.sid)?.status).toBe('completed');
    expect(fx.carrier.stats().perFrom[FROM]).toEqual({ live: 0, peak: 1 });
    expect(fx.carrier.callbacks({ callSid: call.sid, result: 'omitted' })).toHaveLength(1);
  });

  test('faults injected for the next N calls affect exactly N calls', async () => {
    fx.carrier.injectFaults({ callbacks: { count: 2, faults: [{ kind: 'bad-signature' }] } });
    const sids: string[] = [];
    for (const to of ['+14155557110', '+14155557111', '+14155557112']) sids.push((await dial(to)).sid);
    await fx.carrier.whenIdle();
    expect(sids.map((sid) => fx.receiver.forCall(sid).every((c) => c.valid))).toEqual([false, false, true]);
  });
});
