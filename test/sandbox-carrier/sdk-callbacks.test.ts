import twilio from 'twilio';
import { buildCallbackRequest } from '../../src/sandbox-carrier/signing';
import { CallbackReceiver, callsPath, FROM, rawRequest, TWIML_URL, useCarrierFixture } from './helpers';

const RFC2822 = /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} \+0000$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const ALL_EVENTS = ['initiated', 'ringing', 'answered', 'completed'];

const fx = useCarrierFixture();

describe('a call placed with the twilio SDK', () => {
  test('is created queued, and every subscribed callback arrives signed, in order, with Twilio’s parameter set', async () => {
    const to = '+14155551234';
    const call = await fx.client.calls.create({
      to,
      from: FROM,
      url: TWIML_URL,
      statusCallback: `${fx.receiver.url}/status?callId=job-1`,
      statusCallbackEvent: ALL_EVENTS,
    });
    expect(call.sid).toMatch(/^CA[0-9a-f]{32}$/);
    expect(call.status).toBe('queued');
    expect(call.direction).toBe('outbound-api');
    expect(call.accountSid).toBe(fx.carrier.accountSid);
    expect(call.dateCreated).toBeInstanceOf(Date);

    const got = await fx.receiver.waitForCall(call.sid, 4);
    expect(got.map((c) => c.params.CallStatus)).toEqual(['initiated', 'ringing', 'in-progress', 'completed']);
    expect(got.map((c) => c.params.SequenceNumber)).toEqual(['0', '1', '2', '3']);
    for (const cb of got) {
      expect(cb.valid).toBe(true);
      expect(cb.status).toBe(204);
      expect(cb.method).toBe('POST');
      expect(cb.url).toBe(`${fx.receiver.url}/status?callId=job-1`);
      expect(cb.userAgent).toBe('TwilioProxy/1.1');
      expect(cb.contentType).toBe('application/x-www-form-urlencoded');
      expect(cb.idempotencyToken).toMatch(UUID);
      expect(cb.params).toMatchObject({
        CallSid: call.sid,
        AccountSid: fx.carrier.accountSid,
        From: FROM,
        To: to,
        Caller: FROM,
        Called: to,
        ApiVersion: '2010-04-01',
        Direction: 'outbound-api',
        CallbackSource: 'call-progress-events',
      });
      expect(cb.params.Timestamp).toMatch(RFC2822);
    }
    expect(new Set(got.map((c) => c.idempotencyToken)).size).toBe(4);
    // Duration fields and the SIP code only on the terminal event.
    expect(got.slice(0, 3).some((c) => 'CallDuration' in c.params || 'SipResponseCode' in c.params)).toBe(false);
    expect(got[3]?.params).toMatchObject({ CallDuration: '1', Duration: '1', SipResponseCode: '200' });

    await fx.carrier.whenIdle();
    const records = fx.carrier.callbacks({ callSid: call.sid });
    expect(records.map((r) => [r.event, r.result, r.responseStatus, r.attempt])).toEqual([
      ['initiated', 'response', 204, 1],
      ['ringing', 'response', 204, 1],
      ['answered', 'response', 204, 1],
      ['completed', 'response', 204, 1],
    ]);
    // Each callback of a call leaves only after the previous one was answered.
    for (let i = 1; i < records.length; i++) expect(records[i]!.sentAt!).toBeGreaterThanOrEqual(records[i - 1]!.finishedAt);
  });

  test('without StatusCallbackEvent only `completed` is sent, and its SequenceNumber counts the unsent events', async () => {
    const call = await fx.client.calls.create({ to: '+14155551235', from: FROM, url: TWIML_URL, statusCallback: `${fx.receiver.url}/status` });
    await fx.carrier.whenIdle();
    const got = fx.receiver.forCall(call.sid);
    expect(got).toHaveLength(1);
    expect(got[0]?.params).toMatchObject({ CallStatus: 'completed', SequenceNumber: '3' });
  });

  test('one space-separated StatusCallbackEvent value is read like repeated keys', async () => {
    const form = new URLSearchParams({
      To: '+14155551236',
      From: FROM,
      Url: TWIML_URL,
      StatusCallback: `${fx.receiver.url}/status`,
      StatusCallbackEvent: 'ringing answered',
    });
    const res = await rawRequest(fx.carrier, 'POST', callsPath(fx.carrier), { form });
    expect(res.status).toBe(201);
    const sid = String(res.body?.sid);
    await fx.carrier.whenIdle();
    expect(fx.receiver.forCall(sid).map((c) => [c.params.CallStatus, c.params.SequenceNumber])).toEqual([
      ['ringing', '1'],
      ['in-progress', '2'],
    ]);
  });

  test('StatusCallbackMethod=GET puts the parameters in the query, and the signature still validates', async () => {
    const call = await fx.client.calls.create({
      to: '+14155551237',
      from: FROM,
      url: TWIML_URL,
      statusCallback: `${fx.receiver.url}/status?callId=get-1`,
      statusCallbackMethod: 'GET',
    });
    const [cb] = await fx.receiver.waitForCall(call.sid, 1);
    expect(cb?.method).toBe('GET');
    expect(cb?.url.startsWith(`${fx.receiver.url}/status?callId=get-1&`)).toBe(true);
    expect(cb?.params).toMatchObject({ CallSid: call.sid, CallStatus: 'completed', callId: 'get-1' });
    expect(cb?.valid).toBe(true);
  });

  test('credentials in the StatusCallback are sent as Basic auth and left out of the signed URL; the #fragment is never sent', async () => {
    const host = fx.receiver.url.replace('http://', '');
    const call = await fx.client.calls.create({
      to: '+14155551238',
      from: FROM,
      url: TWIML_URL,
      statusCallback: `http://alice:s3cret@${host}/status?x=1#rc=0`,
    });
    const [cb] = await fx.receiver.waitForCall(call.sid, 1);
    expect(cb?.url).toBe(`${fx.receiver.url}/status?x=1`);
    expect(cb?.valid).toBe(true);
    expect(cb?.authorization).toBe(`Basic ${Buffer.from('alice:s3cret').toString('base64')}`);
  });
});

describe('tampered callbacks', () => {
  test('a callback with a bad signature is rejected by twilio.validateRequest', async () => {
    fx.carrier.injectFaults({ callbacks: { faults: [{ kind: 'bad-signature' }] } });
    const call = await fx.client.calls.create({ to: '+14155551240', from: FROM, url: TWIML_URL, statusCallback: `${fx.receiver.url}/status` });
    const [cb] = await fx.receiver.waitForCall(call.sid, 1);
    expect(cb?.params.CallStatus).toBe('completed');
    expect(cb?.valid).toBe(false);
    expect(cb?.status).toBe(403);
    await fx.carrier.whenIdle();
    expect(fx.carrier.callbacks({ callSid: call.sid })).toMatchObject([{ faults: ['bad-signature'], responseStatus: 403 }]);
  });

  test('a body altered in transit (signed, then changed) is rejected, while the genuine one validates', async () => {
    fx.carrier.injectFaults({ callbacks: { faults: [{ kind: 'tamper', events: ['ringing'] }] } });
    const call = await fx.client.calls.create({
      to: '+14155551241',
      from: FROM,
      url: TWIML_URL,
      statusCallback: `${fx.receiver.url}/status`,
      statusCallbackEvent: ['ringing', 'completed'],
    });
    const [ringing, completed] = await fx.receiver.waitForCall(call.sid, 2);
    // The tampering proxy turned "ringing" into "completed": the signature no longer matches.
    expect(ringing?.params.CallStatus).toBe('completed');
    expect(ringing?.params.SequenceNumber).toBe('1');
    expect(ringing?.valid).toBe(false);
    expect(completed?.valid).toBe(true);

    // The same check by hand on the genuine callback: one changed value and it fails.
    const genuine = completed!;
    expect(twilio.validateRequest(fx.carrier.authToken, genuine.signature, genuine.url, genuine.params)).toBe(true);
    expect(twilio.validateRequest(fx.carrier.authToken, genuine.signature, genuine.url, { ...genuine.params, CallDuration: '999' })).toBe(false);
    expect(twilio.validateRequest('another-token', genuine.signature, genuine.url, genuine.params)).toBe(false);
  });
});

describe('delivery and retries', () => {
  test('a dropped connection is retried once with the same idempotency token', async () => {
    const seen = new Set<string>();
    fx.receiver.hook = (cb, req) => {
      if (seen.has(cb.idempotencyToken)) return false;
      seen.add(cb.idempotencyToken);
      req.socket.destroy();
      return true;
    };
    const call = await fx.client.calls.create({ to: '+14155551250', from: FROM, url: TWIML_URL, statusCallback: `${fx.receiver.url}/status` });
    const got = await fx.receiver.waitForCall(call.sid, 2);
    expect(got[0]?.idempotencyToken).toBe(got[1]?.idempotencyToken);
    expect(got[0]?.signature).toBe(got[1]?.signature);
    expect(got[1]?.status).toBe(204);
    await fx.carrier.whenIdle();
    expect(fx.carrier.callbacks({ callSid: call.sid }).map((r) => [r.attempt, r.result, r.responseStatus])).toEqual([
      [1, 'connection-error', null],
      [2, 'response', 204],
    ]);
  });

  test('an HTTP 500 from the receiver is not retried (Twilio retries connection failures only), nor is anything with #rc=0', async () => {
    fx.receiver.hook = (_cb, _req, res) => {
      res.status(500).end();
      return true;
    };
    const a = await fx.client.calls.create({ to: '+14155551251', from: FROM, url: TWIML_URL, statusCallback: `${fx.receiver.url}/status` });
    await fx.carrier.whenIdle();
    expect(fx.carrier.callbacks({ callSid: a.sid }).map((r) => [r.attempt, r.responseStatus])).toEqual([[1, 500]]);

    fx.receiver.hook = (_cb, req) => {
      req.socket.destroy();
      return true;
    };
    const b = await fx.client.calls.create({ to: '+14155551252', from: FROM, url: TWIML_URL, statusCallback: `${fx.receiver.url}/status#rc=0` });
    await fx.carrier.whenIdle();
    expect(fx.carrier.callbacks({ callSid: b.sid }).map((r) => [r.attempt, r.result])).toEqual([[1, 'connection-error']]);
  });

  test('a receiver that is down gets the original attempt and one retry, both recorded', async () => {
    const down = await CallbackReceiver.start(fx.carrier.authToken);
    const deadUrl = `${down.url}/status`;
    await down.stop();
    const call = await fx.client.calls.create({ to: '+14155551253', from: FROM, url: TWIML_URL, statusCallback: deadUrl });
    await fx.carrier.whenIdle();
    const records = fx.carrier.callbacks({ callSid: call.sid });
    expect(records.map((r) => [r.attempt, r.result])).toEqual([
      [1, 'connection-error'],
      [2, 'connection-error'],
    ]);
    expect(records[0]?.idempotencyToken).toBe(records[1]?.idempotencyToken);
    expect(fx.carrier.call(call.sid)?.status).toBe('completed');
  });
});

describe('signing rules (reference §3.5)', () => {
  const params = { CallSid: 'CA0123', CallStatus: 'completed', Timestamp: 'Tue, 31 Aug 2010 20:36:28 +0000' };

  test('https drops an explicit port from the signed URL; the SDK accepts it with or without the port', () => {
    const req = buildCallbackRequest('https://hooks.example.com:8443/cb?a=1#ct=100', 'POST', params, 'tok');
    expect(req.url).toBe('https://hooks.example.com/cb?a=1');
    expect(req.port).toBe(8443);
    expect(req.signature).toBe(twilio.getExpectedTwilioSignature('tok', 'https://hooks.example.com/cb?a=1', params));
    expect(twilio.validateRequest('tok', req.signature, 'https://hooks.example.com:8443/cb?a=1', params)).toBe(true);
    expect(twilio.validateRequest('tok', req.signature, 'https://hooks.example.com/cb?a=1', params)).toBe(true);
  });

  test('http keeps the port; the body is the same map that was signed', () => {
    const req = buildCallbackRequest('http://127.0.0.1:8080/cb', 'POST', params, 'tok');
    expect(req.url).toBe('http://127.0.0.1:8080/cb');
    expect(req.signature).toBe(twilio.getExpectedTwilioSignature('tok', 'http://127.0.0.1:8080/cb', params));
    expect(Object.fromEntries(new URLSearchParams(req.body ?? ''))).toEqual(params);
  });

  test('GET signs the full URL with the parameters in the query and no body parameters', () => {
    const req = buildCallbackRequest('http://127.0.0.1:8080/cb?x=1', 'GET', params, 'tok');
    expect(req.body).toBeNull();
    expect(req.path.startsWith('/cb?x=1&')).toBe(true);
    expect(req.signature).toBe(twilio.getExpectedTwilioSignature('tok', req.url, {}));
    expect(twilio.validateRequest('tok', req.signature, req.url, {})).toBe(true);
  });

  test('the reference test vector signs as documented', () => {
    const vector = { CallSid: 'CA1234567890ABCDE', Caller: '+14158675310', Digits: '1234', From: '+14158675310', To: '+18005551212' };
    expect(buildCallbackRequest('https://example.com/myapp.php?foo=1&bar=2', 'POST', vector, '12345').signature).toBe('L/OH5YylLD5NRKLltdqwSvS0BnU=');
  });
});
