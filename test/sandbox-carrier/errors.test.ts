import twilio from 'twilio';
import { startSandboxCarrier, type SandboxCarrier } from '../../src/sandbox-carrier';
import { createTelephonyClient, type TelephonyClient } from '../../src/telephony/client';
import { callsPath, FROM, rawRequest, rejection, sdkFor, TWIML_URL } from './helpers';

const SECOND = { accountSid: 'AC0123456789abcdef0123456789abcdef', authToken: 'second-account-token', ownedNumbers: ['+14155550111'] };

let carrier: SandboxCarrier;
let client: TelephonyClient;

beforeAll(async () => {
  carrier = await startSandboxCarrier({ port: 0, accounts: [SECOND] });
  client = sdkFor(carrier);
});

afterAll(async () => {
  await carrier.stop();
});

beforeEach(() => carrier.reset());

type CreateParams = Parameters<TelephonyClient['calls']['create']>[0];
const create = (params: Partial<CreateParams>, c: TelephonyClient = client) =>
  c.calls.create({ to: '+14155556000', from: FROM, url: TWIML_URL, ...params } as CreateParams);

/** Asserts the SDK saw a RestException (not TwilioServiceException) with this HTTP status and code. */
async function expectTwilioError(promise: Promise<unknown>, status: number, code: number): Promise<string> {
  const err = await rejection(promise);
  expect(err).toBeInstanceOf(twilio.RestException);
  expect({ status: err.status, code: err.code, moreInfo: err.moreInfo }).toEqual({ status, code, moreInfo: `https://www.twilio.com/docs/errors/${code}` });
  return err.message;
}

const form = (fields: Record<string, string>) => new URLSearchParams(fields);

describe('the error body', () => {
  test('is exactly {code, message, more_info, status} as JSON (no type/title, which would change the SDK’s exception class)', async () => {
    const res = await rawRequest(carrier, 'POST', callsPath(carrier), { form: form({ From: FROM, Url: TWIML_URL }) });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(Object.keys(res.body ?? {}).sort()).toEqual(['code', 'message', 'more_info', 'status']);
    expect(res.body).toEqual({ code: 21201, message: expect.any(String), more_info: 'https://www.twilio.com/docs/errors/21201', status: 400 });
  });
});

describe('authentication (20003) and unknown resources (20404)', () => {
  test('a wrong token, a missing Authorization header, or another account’s path are 401 / 20003', async () => {
    const wrong = sdkFor(carrier, { authToken: 'not-the-token' });
    expect(await expectTwilioError(create({}, wrong), 401, 20003)).toBe('Authenticate');
    expect((await rawRequest(carrier, 'GET', callsPath(carrier), { auth: null })).body).toMatchObject({ code: 20003, status: 401 });
    const res = await rawRequest(carrier, 'GET', `/2010-04-01/Accounts/${SECOND.accountSid}/Calls.json`);
    expect([res.status, res.body?.code]).toEqual([401, 20003]);
    expect(res.headers.get('www-authenticate')).toContain('Basic');
  });

  test('an unknown call and an unknown route are 404 / 20404 naming the resource', async () => {
    const sid = 'CA00000000000000000000000000000000';
    const message = await expectTwilioError(client.calls(sid).fetch(), 404, 20404);
    expect(message).toBe(`The requested resource /2010-04-01/Accounts/${carrier.accountSid}/Calls/${sid}.json was not found`);
    const route = await rawRequest(carrier, 'GET', `/2010-04-01/Accounts/${carrier.accountSid}/Messages.json`);
    expect([route.status, route.body?.code]).toEqual([404, 20404]);
    const root = await rawRequest(carrier, 'GET', '/nowhere');
    expect(root.body).toMatchObject({ code: 20404, status: 404 });
  });

  test('a second account has its own credentials and owned numbers', async () => {
    const second = createTelephonyClient({ ...SECOND, apiBaseUrl: carrier.url });
    const call = await create({ from: SECOND.ownedNumbers[0] }, second);
    expect(call.accountSid).toBe(SECOND.accountSid);
    // The first account cannot see it.
    await expectTwilioError(client.calls(call.sid).fetch(), 404, 20404);
  });
});

describe('create validation, in Twilio’s order', () => {
  test('21201 no To / 21213 no From (the SDK itself refuses to send them, synchronously)', async () => {
    expect(() => client.calls.create({ from: FROM, url: TWIML_URL } as CreateParams)).toThrow(/Required parameter "params\['to'\]" missing/);
    const noTo = await rawRequest(carrier, 'POST', callsPath(carrier), { form: form({ From: FROM, Url: TWIML_URL }) });
    expect(noTo.body).toMatchObject({ code: 21201, status: 400 });
    const noFrom = await rawRequest(carrier, 'POST', callsPath(carrier), { form: form({ To: 'garbage', Url: TWIML_URL }) });
    expect(noFrom.body).toMatchObject({ code: 21213, status: 400 });
    const neither = await rawRequest(carrier, 'POST', callsPath(carrier), { form: form({}) });
    expect(neither.body?.code).toBe(21201);
  });

  test('21211 invalid To', async () => {
    expect(await expectTwilioError(create({ to: '5551234567' }), 400, 21211)).toBe("The 'To' number 5551234567 is not a valid phone number.");
    await expectTwilioError(create({ to: '+1415555' }), 400, 21211);
    await expectTwilioError(create({ to: '+15005550001' }), 400, 21211);
    await expectTwilioError(create({ to: 'garbage', from: 'garbage' }), 400, 21211);
  });

  test('21212 invalid From', async () => {
    await expectTwilioError(create({ from: 'not-a-number' }), 400, 21212);
    await expectTwilioError(create({ from: '+15005550001' }), 400, 21212);
  });

  test('21210 From not owned by the account; +15005550006 is always owned', async () => {
    const second = createTelephonyClient({ ...SECOND, apiBaseUrl: carrier.url });
    await expectTwilioError(create({ from: FROM }, second), 400, 21210);
    await expectTwilioError(create({ from: '+15005550007' }), 400, 21210);
    expect((await create({ from: '+15005550006' }, second)).status).toBe('queued');
    // Ownership is checked before the missing Url.
    await expectTwilioError(create({ from: FROM, url: undefined }, second), 400, 21210);
  });

  test('21205 without Url, Twiml or ApplicationSid, or with a bad Url / StatusCallback; Twiml alone is enough', async () => {
    await expectTwilioError(create({ url: undefined }), 400, 21205);
    await expectTwilioError(create({ url: 'ftp://example.com/twiml' }), 400, 21205);
    await expectTwilioError(create({ statusCallback: 'http://bad_host.example.com/cb' }), 400, 21205);
    await expectTwilioError(create({ url: undefined, applicationSid: 'AP123' }), 400, 21218);
    expect((await create({ url: undefined, twiml: '<Response><Say>Hi</Say></Response>' })).status).toBe('queued');
  });

  test('21626 bad StatusCallbackEvent, checked after the missing Url and before a bad URL', async () => {
    await expectTwilioError(create({ statusCallback: 'http://127.0.0.1/cb', statusCallbackEvent: ['initiated', 'bogus'] }), 400, 21626);
    await expectTwilioError(create({ url: undefined, statusCallbackEvent: ['bogus'] }), 400, 21205);
    await expectTwilioError(create({ statusCallback: 'not a url', statusCallbackEvent: ['bogus'] }), 400, 21626);
  });

  test('21215 geo-blocked prefix, 21216 blocked number, 21214 unreachable, all after URL validation', async () => {
    await expectTwilioError(create({ to: '+882123456789' }), 400, 21215);
    await expectTwilioError(create({ to: '+15005550003' }), 400, 21215);
    await expectTwilioError(create({ to: '+15005550004' }), 400, 21216);
    await expectTwilioError(create({ to: '+15005550002' }), 400, 21214);
    await expectTwilioError(create({ to: '+15005550004', url: 'ftp://x' }), 400, 21205);

    carrier.blockNumbers(['+14155556666']);
    carrier.geoBlockPrefixes(['+44']);
    await expectTwilioError(create({ to: '+14155556666' }), 400, 21216);
    await expectTwilioError(create({ to: '+442071838750' }), 400, 21215);
    carrier.reset();
    expect((await create({ to: '+14155556666' })).status).toBe('queued');
  });
});

describe('capacity', () => {
  test('20429: 429s are not processed; the SDK’s own retry gets through two, not four', async () => {
    carrier.injectFaults({ create429: 2 });
    const call = await create({ to: '+14155556100' });
    expect(call.status).toBe('queued');
    expect(carrier.requests().filter((r) => r.method === 'POST').map((r) => r.status)).toEqual([429, 429, 201]);

    carrier.reset();
    carrier.injectFaults({ create429: 4 });
    expect(await expectTwilioError(create({ to: '+14155556101' }), 429, 20429)).toBe('Too Many Requests');
    expect(carrier.requests().map((r) => [r.status, r.errorCode])).toEqual(Array.from({ length: 4 }, () => [429, 20429]));
    expect(carrier.calls()).toHaveLength(0);
  });

  test('22005 when the account’s queue is full (and for the magic From +15005550008)', async () => {
    carrier.setAccountLimits({ callsPerSecond: 1, queueLimit: 1 });
    await create({ to: '+14155556200' });
    const waiting = await create({ to: '+14155556201' });
    expect(waiting.status).toBe('queued');
    await expectTwilioError(create({ to: '+14155556202' }), 400, 22005);
    await client.calls(waiting.sid).update({ status: 'canceled' });
    expect((await create({ to: '+14155556203' })).status).toBe('queued');
    await expectTwilioError(create({ from: '+15005550008' }), 400, 22005);
  });
});

describe('update and method errors', () => {
  test('an unknown Status value is refused and an unsupported method is 405', async () => {
    carrier.queueOutcomes(['hold']);
    const call = await create({ to: '+14155556300' });
    const bad = await rawRequest(carrier, 'POST', `/2010-04-01/Accounts/${carrier.accountSid}/Calls/${call.sid}.json`, { form: form({ Status: 'paused' }) });
    expect([bad.status, bad.body?.code]).toEqual([400, 20001]);
    expect(carrier.call(call.sid)?.status).not.toBe('completed');
    const put = await rawRequest(carrier, 'PUT', callsPath(carrier), { form: form({}) });
    expect([put.status, put.body?.code]).toEqual([405, 20004]);
    carrier.releaseAll();
  });
});
