import twilio from 'twilio';
import { startSandboxCarrier, type CallbackRecord, type CallView, type VoiceRequestRecord } from '../../src/sandbox-carrier';
import { reportedAs } from '../../src/sandbox-carrier/amd';
import { hangsUp, parseTwiml } from '../../src/sandbox-carrier/twiml';
import type { TelephonyClient } from '../../src/telephony/client';
import { CallbackReceiver, callsPath, FROM, rawRequest, rejection, sdkFor, useCarrierFixture, type ReceivedCallback } from './helpers';

/**
 * The voice app (Url / Twiml / ApplicationSid) and answering-machine detection, driven by the SDK
 * against the sandbox, with the test receiver serving TwiML and validating every signature.
 */

const fx = useCarrierFixture();
type CreateOptions = Parameters<TelephonyClient['calls']['create']>[0];

const EVENTS = ['initiated', 'ringing', 'answered', 'completed'];
const HANGUP = '<Response><Hangup/></Response>';

function dial(to: string, extra: Partial<CreateOptions> = {}) {
  return fx.client.calls.create({
    to,
    from: FROM,
    url: fx.receiver.twimlUrl(),
    statusCallback: `${fx.receiver.url}/status`,
    statusCallbackEvent: EVENTS,
    ...extra,
  } as CreateOptions);
}

/** The call's status callbacks of one event, as the receiver got them. */
const received = (sid: string, status: string): ReceivedCallback | undefined => fx.receiver.forCall(sid).find((c) => c.params.CallStatus === status && c.url.includes('/status'));

/** The twilio-params every voice request carries. */
function voiceParamsOf(sid: string, to: string): Record<string, string> {
  return {
    AccountSid: fx.carrier.accountSid,
    ApiVersion: '2010-04-01',
    CallSid: sid,
    CallStatus: 'in-progress',
    Called: to,
    Caller: FROM,
    Direction: 'outbound-api',
    From: FROM,
    To: to,
  };
}

async function ended(sid: string): Promise<CallView> {
  await fx.carrier.waitForCall(sid, ['completed', 'busy', 'no-answer', 'failed', 'canceled']);
  await fx.carrier.whenIdle();
  return fx.carrier.call(sid) as CallView;
}

const onlyRecord = (sid: string): VoiceRequestRecord => {
  const records = fx.carrier.voiceRequests({ callSid: sid });
  expect(records).toHaveLength(1);
  return records[0] as VoiceRequestRecord;
};

describe('the voice URL', () => {
  test('is requested on answer, POST, signed over the URL with its own query intact, and the call then plays its script', async () => {
    const url = fx.receiver.twimlUrl('/lead?leadId=42&name=Ada%20Lovelace&campaign=spring-2024');
    const to = '+14155573001';
    const call = await dial(to, { url });
    const [fetch] = await fx.receiver.waitForVoice(call.sid);
    expect(fetch).toMatchObject({ method: 'POST', valid: true, userAgent: 'TwilioProxy/1.1', contentType: 'application/x-www-form-urlencoded' });
    expect(fetch?.url).toBe(url);
    expect(fetch?.query).toEqual({ leadId: '42', name: 'Ada Lovelace', campaign: 'spring-2024' });
    expect(fetch?.params).toEqual(voiceParamsOf(call.sid, to));
    expect(fetch?.idempotencyToken).toMatch(/^[0-9a-f-]{36}$/);
    expect(twilio.validateRequest(fx.carrier.authToken, fetch?.signature ?? '', url, fetch?.params ?? {})).toBe(true);

    const view = await ended(call.sid);
    expect(view).toMatchObject({
      status: 'completed',
      url,
      method: 'POST',
      twiml: null,
      applicationSid: null,
      machineDetection: null,
      asyncAmd: false,
      answeredBy: null,
      voiceFetches: 1,
      errorCode: null,
    });
    expect(onlyRecord(call.sid)).toMatchObject({
      source: 'url',
      method: 'POST',
      url,
      params: voiceParamsOf(call.sid, to),
      signature: fetch?.signature,
      idempotencyToken: fetch?.idempotencyToken,
      result: 'response',
      responseStatus: 200,
      errorCode: null,
      action: 'continue',
    });
    expect(onlyRecord(call.sid).responseBody).toContain('<Pause length="60"/>');
    // The fetch comes after the answer and the call ends after it, as its script says.
    const answeredAt = view.answeredAt ?? NaN;
    expect(onlyRecord(call.sid).at).toBeGreaterThanOrEqual(answeredAt);
    expect(view.endTime).toBeGreaterThanOrEqual(onlyRecord(call.sid).finishedAt);
    expect(received(call.sid, 'completed')?.params.AnsweredBy).toBeUndefined();
  });

  test('Method=GET puts the parameters in the query after the caller’s own, and the signature covers that URL', async () => {
    const base = fx.receiver.twimlUrl('?leadId=7');
    const to = '+14155573002';
    const call = await dial(to, { url: base, method: 'GET' });
    const [fetch] = await fx.receiver.waitForVoice(call.sid);
    expect(fetch).toMatchObject({ method: 'GET', valid: true, contentType: '' });
    expect(fetch?.url.startsWith(`${base}&`)).toBe(true);
    expect(fetch?.query).toEqual({ leadId: '7', ...voiceParamsOf(call.sid, to) });
    await ended(call.sid);
    const record = onlyRecord(call.sid);
    expect(record).toMatchObject({ method: 'GET', url: fetch?.url, result: 'response', action: 'continue' });
    expect(twilio.validateRequest(fx.carrier.authToken, record.signature, record.url, {})).toBe(true);
  });

  test('<Hangup/> first ends the call at once as completed, even one scripted to stay up', async () => {
    fx.carrier.setScripts([{ to: '+14155573003', outcome: 'hold' }]);
    fx.receiver.twiml = `<?xml version="1.0"?>\n<!-- done -->\n${HANGUP}`;
    const call = await dial('+14155573003');
    const view = await ended(call.sid);
    expect(view).toMatchObject({ status: 'completed', errorCode: null, held: false });
    expect(onlyRecord(call.sid)).toMatchObject({ result: 'response', responseStatus: 200, action: 'hangup' });
    expect(received(call.sid, 'completed')?.params).toMatchObject({ CallStatus: 'completed', SipResponseCode: '200' });
  });

  test('other TwiML (a Say before the Hangup, an empty Response) leaves the call to its script', async () => {
    fx.carrier.setScripts([{ to: '+1415557301*', outcome: 'hold' }]);
    for (const [to, twiml] of [
      ['+14155573011', '<Response><Say>Goodbye</Say><Hangup/></Response>'],
      ['+14155573012', '<Response/>'],
    ] as const) {
      fx.receiver.twiml = twiml;
      const call = await dial(to);
      await fx.carrier.waitForVoiceRequests(1, { callSid: call.sid });
      expect(onlyRecord(call.sid).action).toBe('continue');
      expect(fx.carrier.call(call.sid)).toMatchObject({ status: 'in-progress', held: true });
      expect(fx.carrier.releaseCall(call.sid)).toBe(true);
      expect((await ended(call.sid)).status).toBe('completed');
    }
  });

  test('an HTTP 500 from the voice URL ends the call (completed) with 11200 recorded', async () => {
    fx.carrier.setScripts([{ to: '+14155573004', outcome: 'hold' }]);
    fx.receiver.voiceHook = (_fetch, _req, res) => {
      res.status(500).type('text/plain').send('boom');
      return true;
    };
    const call = await dial('+14155573004');
    const view = await ended(call.sid);
    expect(view).toMatchObject({ status: 'completed', errorCode: 11200, voiceFetches: 1 });
    expect(onlyRecord(call.sid)).toMatchObject({ result: 'response', responseStatus: 500, responseBody: 'boom', errorCode: 11200, action: 'application-error' });
    expect(received(call.sid, 'completed')?.params.CallStatus).toBe('completed');
  });

  test('an unreachable voice URL ends the call (completed) with a connection error and 11200', async () => {
    const down = await CallbackReceiver.start(fx.carrier.authToken);
    const deadUrl = down.twimlUrl();
    await down.stop();
    fx.carrier.setScripts([{ to: '+14155573005', outcome: 'hold' }]);
    const call = await dial('+14155573005', { url: deadUrl });
    const view = await ended(call.sid);
    expect(view).toMatchObject({ status: 'completed', errorCode: 11200 });
    expect(onlyRecord(call.sid)).toMatchObject({ url: deadUrl, result: 'connection-error', responseStatus: null, errorCode: 11200, action: 'application-error' });
  });

  test('a 200 that is not TwiML ends the call with 12100', async () => {
    fx.carrier.setScripts([{ to: '+1415557306*', outcome: 'hold' }]);
    for (const [to, body] of [
      ['+14155573061', '<html><body>Hello</body></html>'],
      ['+14155573062', '<Response><Say>unclosed</Response>'],
      ['+14155573063', ''],
    ] as const) {
      fx.receiver.twiml = body;
      const call = await dial(to);
      expect(await ended(call.sid)).toMatchObject({ status: 'completed', errorCode: 12100 });
      expect(onlyRecord(call.sid)).toMatchObject({ result: 'invalid-twiml', responseStatus: 200, errorCode: 12100, action: 'application-error' });
    }
  });

  test('a failed Url is followed by the FallbackUrl (FallbackMethod, with ErrorCode and ErrorUrl); its TwiML keeps the call up', async () => {
    const to = '+14155573007';
    fx.carrier.setScripts([{ to, outcome: 'hold' }]);
    const primary = fx.receiver.twimlUrl('/primary?leadId=3');
    const fallback = fx.receiver.twimlUrl('/fallback?leadId=3');
    fx.receiver.voiceHook = (fetch, _req, res) => {
      if (!fetch.url.includes('/primary')) return false;
      res.status(503).end();
      return true;
    };
    const call = await dial(to, { url: primary, fallbackUrl: fallback, fallbackMethod: 'GET' });
    const [first, second] = await fx.carrier.waitForVoiceRequests(2, { callSid: call.sid });
    expect(first).toMatchObject({ source: 'url', url: primary, responseStatus: 503, errorCode: 11200, action: 'fallback' });
    expect(second).toMatchObject({ source: 'fallback', method: 'GET', result: 'response', action: 'continue' });
    const served = fx.receiver.voiceFetches.find((f) => f.url.includes('/fallback'));
    expect(served).toMatchObject({ method: 'GET', valid: true });
    expect(served?.query).toEqual({ leadId: '3', ...voiceParamsOf(call.sid, to), ErrorCode: '11200', ErrorUrl: primary });
    expect(fx.carrier.call(call.sid)).toMatchObject({ status: 'in-progress', voiceFetches: 2 });
    fx.carrier.releaseCall(call.sid);
    expect(await ended(call.sid)).toMatchObject({ status: 'completed', errorCode: null });
  });

  test('a voice URL slower than voiceUrlTimeoutMs times out: 11200, call completed', async () => {
    const carrier = await startSandboxCarrier({ voiceUrlTimeoutMs: 100, scripts: [{ to: '+14155573008', outcome: 'hold' }] });
    try {
      fx.receiver.voiceHook = () => true; // never answers
      const call = await sdkFor(carrier).calls.create({ to: '+14155573008', from: FROM, url: fx.receiver.twimlUrl() });
      await carrier.waitForCall(call.sid, 'completed');
      expect(carrier.call(call.sid)).toMatchObject({ status: 'completed', errorCode: 11200 });
      const [record] = carrier.voiceRequests({ callSid: call.sid });
      expect(record).toMatchObject({ result: 'timeout', responseStatus: null, errorCode: 11200, action: 'application-error' });
      expect((record?.finishedAt ?? 0) - (record?.at ?? 0)).toBeGreaterThanOrEqual(90);
    } finally {
      await carrier.stop();
    }
  });

  test('a #fragment (connection overrides) is neither sent nor signed; its rt shortens the wait', async () => {
    const to = '+14155573010';
    fx.carrier.setScripts([{ to, outcome: 'hold' }]);
    fx.receiver.voiceHook = () => true; // never answers
    const url = fx.receiver.twimlUrl('?leadId=5#rc=0&rt=150');
    const call = await dial(to, { url });
    const view = await ended(call.sid);
    expect(view).toMatchObject({ status: 'completed', errorCode: 11200, url });
    const [fetch] = fx.receiver.voiceFetches;
    expect(fetch).toMatchObject({ url: fx.receiver.twimlUrl('?leadId=5'), valid: true });
    expect(onlyRecord(call.sid)).toMatchObject({ url: fx.receiver.twimlUrl('?leadId=5'), result: 'timeout', action: 'application-error' });
  });

  test('hanging up while the voice URL is being fetched ends the call at once; the late answer is recorded and ignored', async () => {
    const to = '+14155573009';
    fx.carrier.setScripts([{ to, outcome: 'hold' }]);
    let answer: (() => void) | undefined;
    fx.receiver.voiceHook = (_fetch, _req, res) => {
      answer = () => res.status(200).type('text/xml').send('<Response><Pause length="60"/></Response>');
      return true;
    };
    const call = await dial(to);
    await fx.receiver.waitForVoice(call.sid);
    expect((await fx.client.calls(call.sid).update({ status: 'completed' })).status).toBe('completed');
    answer?.();
    await fx.carrier.waitForVoiceRequests(1, { callSid: call.sid });
    await fx.carrier.whenIdle();
    expect(onlyRecord(call.sid)).toMatchObject({ result: 'response', action: 'call-ended' });
    expect(fx.carrier.call(call.sid)).toMatchObject({ status: 'completed', errorCode: null });
  });
});

describe('inline Twiml and ApplicationSid', () => {
  test('Twiml <Hangup/> (or <Reject/>) ends the answered call at once; nothing is fetched', async () => {
    fx.carrier.setScripts([{ to: '+1415557310*', outcome: 'hold' }]);
    for (const [to, twiml] of [
      ['+14155573101', HANGUP],
      ['+14155573102', '<Response><Reject reason="busy"/></Response>'],
    ] as const) {
      const call = await dial(to, { url: undefined, twiml });
      const view = await ended(call.sid);
      expect(view).toMatchObject({ status: 'completed', url: null, twiml, voiceFetches: 0, errorCode: null });
      expect(view.answeredAt).not.toBeNull();
    }
    expect(fx.carrier.voiceRequests()).toEqual([]);
  });

  test('malformed inline Twiml ends the call with 12100; valid Twiml lets it run its script', async () => {
    fx.carrier.setScripts([{ to: '+1415557311*', outcome: 'hold' }]);
    const bad = await dial('+14155573111', { url: undefined, twiml: '<Response><Say>Hi & bye</Say></Response>' });
    expect(await ended(bad.sid)).toMatchObject({ status: 'completed', errorCode: 12100 });
    const good = await dial('+14155573112', { url: undefined, twiml: '<Response><Say>Hi &amp; bye</Say></Response>' });
    await fx.carrier.waitForCall(good.sid, 'in-progress');
    expect(fx.carrier.call(good.sid)).toMatchObject({ status: 'in-progress', held: true });
    fx.carrier.releaseCall(good.sid);
    expect(await ended(good.sid)).toMatchObject({ status: 'completed', errorCode: null });
  });

  test('an ApplicationSid call fetches nothing (the sandbox has no applications) and plays its script', async () => {
    const applicationSid = `AP${'ab'.repeat(16)}`;
    const call = await fx.client.calls.create({ to: '+14155573121', from: FROM, applicationSid });
    expect(await ended(call.sid)).toMatchObject({ status: 'completed', applicationSid, url: null, voiceFetches: 0, errorCode: null });
    expect(fx.carrier.voiceRequests()).toEqual([]);
  });
});

describe('answering-machine detection', () => {
  test('without MachineDetection a scripted answeredBy is never sent or shown', async () => {
    fx.carrier.setScripts([{ to: '+14155574001', answeredBy: 'machine_start' }]);
    const call = await dial('+14155574001');
    const view = await ended(call.sid);
    expect(view.answeredBy).toBeNull();
    for (const cb of fx.receiver.forCall(call.sid)) expect(cb.params.AnsweredBy).toBeUndefined();
    expect(fx.receiver.voiceFetches[0]?.params.AnsweredBy).toBeUndefined();
    expect((await fx.client.calls(call.sid).fetch()).answeredBy).toBeNull();
  });

  test('sync, per number pattern: the answered callback waits for detection, then the voice request; both carry AnsweredBy in the request’s mode', async () => {
    fx.carrier.setScripts([
      { to: '+1415557410*', answeredBy: 'machine_end_beep', amdMs: 40 },
      { to: '+1415557411*', answeredBy: 'machine_start', amdMs: 40 },
      { to: '+1415557412*', answeredBy: 'fax' },
    ]);
    const cases = [
      { to: '+14155574101', mode: 'Enable', expected: 'machine_start', amdMs: 40 },
      { to: '+14155574102', mode: 'DetectMessageEnd', expected: 'machine_end_beep', amdMs: 40 },
      { to: '+14155574111', mode: 'DetectMessageEnd', expected: 'machine_end_other', amdMs: 40 },
      { to: '+14155574112', mode: 'Enable', expected: 'machine_start', amdMs: 40 },
      { to: '+14155574121', mode: 'Enable', expected: 'fax', amdMs: 10 },
      { to: '+14155574199', mode: 'Enable', expected: 'human', amdMs: 10 }, // no rule: detection finds a human
    ];
    const calls = await Promise.all(cases.map((c) => dial(c.to, { machineDetection: c.mode })));
    for (const [i, c] of cases.entries()) {
      const sid = calls[i]?.sid ?? '';
      const view = await ended(sid);
      expect(view).toMatchObject({ machineDetection: c.mode, asyncAmd: false, answeredBy: c.expected, status: 'completed' });
      expect(received(sid, 'in-progress')?.params.AnsweredBy).toBe(c.expected);
      expect(received(sid, 'completed')?.params.AnsweredBy).toBe(c.expected);
      const fetch = fx.receiver.voiceFetches.find((f) => f.params.CallSid === sid);
      expect(fetch).toMatchObject({ valid: true, params: { ...voiceParamsOf(sid, c.to), AnsweredBy: c.expected } });
      expect((await fx.client.calls(sid).fetch()).answeredBy).toBe(c.expected);

      // In progress at the answer; the answered event only after detection, the voice request after that.
      const answered = fx.carrier.callbacks({ callSid: sid, event: 'answered' })[0] as CallbackRecord;
      const answeredAt = view.answeredAt ?? NaN;
      // Timers may fire a millisecond early against Date.now(), hence the small allowance.
      expect(answered.firedAt - answeredAt).toBeGreaterThanOrEqual(c.amdMs - 2);
      expect(onlyRecord(sid).at).toBeGreaterThanOrEqual(answered.firedAt);
    }
  });

  test('async: answered callback and voice request at once without AnsweredBy; then the signed AsyncAmdStatusCallback; completed carries it', async () => {
    const to = '+14155574201';
    fx.carrier.setScripts([{ to, outcome: 'hold', answeredBy: 'machine_end_beep', amdMs: 50 }]);
    const amdUrl = `${fx.receiver.url}/amd?leadId=11`;
    const call = await dial(to, { machineDetection: 'DetectMessageEnd', asyncAmd: 'true', asyncAmdStatusCallback: amdUrl });
    const [amd] = await fx.carrier.waitForCallbacks(1, { callSid: call.sid, event: 'amd' });
    const params = { AccountSid: fx.carrier.accountSid, CallSid: call.sid, AnsweredBy: 'machine_end_beep', MachineDetectionDuration: '50' };
    expect(amd).toMatchObject({ event: 'amd', sequenceNumber: null, callStatus: 'in-progress', method: 'POST', url: amdUrl, params, result: 'response', responseStatus: 204 });
    const delivered = fx.receiver.forCall(call.sid).find((c) => c.url === amdUrl);
    expect(delivered).toMatchObject({ method: 'POST', valid: true, params, userAgent: 'TwilioProxy/1.1' });

    expect(received(call.sid, 'in-progress')?.params.AnsweredBy).toBeUndefined();
    const fetch = fx.receiver.voiceFetches.find((f) => f.params.CallSid === call.sid);
    expect(fetch?.params).toEqual(voiceParamsOf(call.sid, to));
    expect(onlyRecord(call.sid).at).toBeLessThanOrEqual(amd?.firedAt ?? 0);
    expect(fx.carrier.call(call.sid)).toMatchObject({ asyncAmd: true, answeredBy: 'machine_end_beep', status: 'in-progress' });

    // Hanging up after detection is still at once, and the terminal event carries the result.
    expect((await fx.client.calls(call.sid).update({ status: 'completed' })).status).toBe('completed');
    await ended(call.sid);
    expect(received(call.sid, 'completed')?.params.AnsweredBy).toBe('machine_end_beep');
    expect((await fx.client.calls(call.sid).fetch()).answeredBy).toBe('machine_end_beep');
    expect(fx.carrier.callbacks({ callSid: call.sid, event: 'amd' })).toHaveLength(1);
  });

  test('detection slower than MachineDetectionTimeout (× timeScale) gives unknown at the timeout, sync and async (GET)', async () => {
    fx.carrier.setScripts([
      { to: '+14155574302', outcome: 'hold', amdMs: 5000, answeredBy: 'machine_start' },
      { to: '+1415557430*', amdMs: 5000, answeredBy: 'machine_start' },
    ]);
    // 3 s × the default timeScale 0.01 = 30 ms.
    const sync = await dial('+14155574301', { machineDetection: 'Enable', machineDetectionTimeout: 3 });
    const amdUrl = `${fx.receiver.url}/amd`;
    const asyncCall = await dial('+14155574302', {
      machineDetection: 'Enable',
      machineDetectionTimeout: 3,
      asyncAmd: 'true',
      asyncAmdStatusCallback: amdUrl,
      asyncAmdStatusCallbackMethod: 'GET',
    });

    // The held async call goes first: the carrier is idle only once it has ended.
    const [amd] = await fx.carrier.waitForCallbacks(1, { callSid: asyncCall.sid, event: 'amd' });
    expect(amd).toMatchObject({ method: 'GET', params: { AnsweredBy: 'unknown', MachineDetectionDuration: '30' }, result: 'response', responseStatus: 204 });
    const delivered = fx.receiver.forCall(asyncCall.sid).find((c) => c.url.startsWith(`${amdUrl}?`));
    expect(delivered).toMatchObject({ method: 'GET', valid: true });
    expect(delivered?.params).toMatchObject({ AnsweredBy: 'unknown', MachineDetectionDuration: '30', CallSid: asyncCall.sid });
    fx.carrier.releaseCall(asyncCall.sid);
    expect(await ended(asyncCall.sid)).toMatchObject({ answeredBy: 'unknown', status: 'completed' });

    expect(await ended(sync.sid)).toMatchObject({ answeredBy: 'unknown', status: 'completed' });
    expect(received(sync.sid, 'in-progress')?.params.AnsweredBy).toBe('unknown');
    expect(fx.receiver.voiceFetches.find((f) => f.params.CallSid === sync.sid)?.params.AnsweredBy).toBe('unknown');
  });

  test('a hang-up during detection ends the call at once: no answered event (sync), no AMD callback (async), no AnsweredBy', async () => {
    fx.carrier.setScripts([{ to: '+1415557440*', outcome: 'hold', amdMs: 200 }]);
    const amdUrl = `${fx.receiver.url}/amd`;
    const asyncAmd = { machineDetection: 'Enable', asyncAmd: 'true', asyncAmdStatusCallback: amdUrl };
    const sync = await dial('+14155574401', { machineDetection: 'Enable' });
    await fx.carrier.waitForCall(sync.sid, 'in-progress');
    expect((await fx.client.calls(sync.sid).update({ status: 'completed' })).status).toBe('completed');
    const asyncCall = await dial('+14155574402', asyncAmd);
    await fx.carrier.waitForCall(asyncCall.sid, 'in-progress');
    expect((await fx.client.calls(asyncCall.sid).update({ status: 'completed' })).status).toBe('completed');

    // A later call with the same script is the clock: its detection ends after theirs would have.
    const clock = await dial('+14155574403', asyncAmd);
    await fx.carrier.waitForCallbacks(1, { callSid: clock.sid, event: 'amd' });
    fx.carrier.releaseCall(clock.sid);
    await fx.carrier.whenIdle();

    expect(fx.carrier.callbacks({ callSid: sync.sid }).map((r) => r.event)).toEqual(['initiated', 'ringing', 'completed']);
    expect(fx.carrier.callbacks({ callSid: asyncCall.sid }).map((r) => r.event)).toEqual(['initiated', 'ringing', 'answered', 'completed']);
    for (const sid of [sync.sid, asyncCall.sid]) {
      expect(fx.carrier.call(sid)).toMatchObject({ status: 'completed', answeredBy: null });
      expect(received(sid, 'completed')?.params.AnsweredBy).toBeUndefined();
    }
    expect(fx.carrier.voiceRequests({ callSid: sync.sid })).toEqual([]);
  });

  test('invalid AMD parameters are refused with 400 (21234; 21205 for a bad AsyncAmdStatusCallback) and create nothing', async () => {
    const create = (extra: Partial<CreateOptions>) => fx.client.calls.create({ to: '+14155574501', from: FROM, url: fx.receiver.twimlUrl(), ...extra } as CreateOptions);
    for (const extra of [{ machineDetection: 'Sometimes' }, { machineDetection: 'Enable', machineDetectionTimeout: 2 }, { machineDetection: 'Enable', machineDetectionTimeout: 60 }]) {
      expect(await rejection(create(extra))).toMatchObject({ status: 400, code: 21234, moreInfo: 'https://www.twilio.com/docs/errors/21234' });
    }
    expect(await rejection(create({ machineDetection: 'Enable', asyncAmd: 'true', asyncAmdStatusCallback: 'not a url' }))).toMatchObject({ status: 400, code: 21205 });
    const raw = (form: Record<string, string>) =>
      rawRequest(fx.carrier, 'POST', callsPath(fx.carrier), { form: new URLSearchParams({ To: '+14155574501', From: FROM, Url: fx.receiver.twimlUrl(), MachineDetection: 'Enable', ...form }) });
    expect((await raw({ AsyncAmd: 'maybe' })).body).toMatchObject({ code: 21234, status: 400 });
    expect((await raw({ AsyncAmdStatusCallbackMethod: 'PUT' })).body).toMatchObject({ code: 21234, status: 400 });
    expect((await raw({ MachineDetectionTimeout: '10.5' })).body).toMatchObject({ code: 21234, status: 400 });
    expect(fx.carrier.calls()).toEqual([]);

    for (const machineDetectionTimeout of [3, 59]) expect((await create({ machineDetection: 'DetectMessageEnd', machineDetectionTimeout })).status).toBe('queued');
  });

  test('scripts accept only Twilio’s AnsweredBy values; the admin API serves voice requests and the new call fields', async () => {
    expect(() => fx.carrier.setScripts([{ to: '+1415557*', answeredBy: 'machine' as never }])).toThrow(/answeredBy/);
    expect(() => fx.carrier.setScripts([{ to: '+1415557*', amdMs: -1 }])).toThrow(/amdMs/);
    fx.carrier.setScripts([{ to: '+14155574601', answeredBy: 'machine_end_silence' }]);
    const call = await dial('+14155574601', { machineDetection: 'DetectMessageEnd' });
    const admin = async <T>(path: string): Promise<T> => (await (await fetch(`${fx.carrier.url}/__sandbox${path}`)).json()) as T;
    const waited = await admin<VoiceRequestRecord[]>(`/wait/voice-requests?count=1&callSid=${call.sid}`);
    expect(waited).toHaveLength(1);
    await ended(call.sid);
    const listed = await admin<VoiceRequestRecord[]>(`/voice-requests?callSid=${call.sid}`);
    expect(listed).toEqual([expect.objectContaining({ callSid: call.sid, result: 'response', action: 'continue', params: expect.objectContaining({ AnsweredBy: 'machine_end_silence' }) })]);
    expect(await admin<VoiceRequestRecord[]>('/voice-requests?callSid=CA0')).toEqual([]);
    expect(await admin<CallView>(`/calls/${call.sid}`)).toMatchObject({ machineDetection: 'DetectMessageEnd', answeredBy: 'machine_end_silence', voiceFetches: 1, url: fx.receiver.twimlUrl() });
  });
});

describe('reading TwiML and mapping AMD results', () => {
  test('well-formed documents with a <Response> root are read for their verbs; anything else is a parse failure', () => {
    expect(parseTwiml('<?xml version="1.0" encoding="UTF-8"?>\n<Response>\n  <Say voice="alice">Hi &amp; bye</Say>\n  <!-- c -->\n  <Hangup/>\n</Response>\n')).toEqual({ ok: true, verbs: ['Say', 'Hangup'] });
    expect(parseTwiml('<Response><Gather input="dtmf"><Say>Press 1</Say></Gather></Response>')).toEqual({ ok: true, verbs: ['Gather'] });
    expect(parseTwiml('<Response/>')).toEqual({ ok: true, verbs: [] });
    for (const bad of ['', 'Hello', '<Response>', '<Response></Say>', '<Response/><Response/>', '<Hangup/>', '<Response>a & b</Response>', '<Response><Say a=1/></Response>', 'x<Response/>']) {
      expect(parseTwiml(bad).ok).toBe(false);
    }
    expect(hangsUp(['Hangup'])).toBe(true);
    expect(hangsUp(['Reject'])).toBe(true);
    expect(hangsUp(['Say', 'Hangup'])).toBe(false);
    expect(hangsUp([])).toBe(false);
  });

  test('results are reported in the request’s mode', () => {
    expect(reportedAs('machine_end_silence', 'Enable')).toBe('machine_start');
    expect(reportedAs('machine_start', 'DetectMessageEnd')).toBe('machine_end_other');
    expect(reportedAs('machine_end_beep', 'DetectMessageEnd')).toBe('machine_end_beep');
    for (const same of ['human', 'fax', 'unknown'] as const) {
      expect(reportedAs(same, 'Enable')).toBe(same);
      expect(reportedAs(same, 'DetectMessageEnd')).toBe(same);
    }
  });
});
