/**
 * The SDK's requests sent with node:http (CarrierRequestClient, the default) against the SDK's own
 * client (axios): the same calls through each, recorded at a bare HTTP server, must be the same
 * requests on the wire and come back as the same instances and the same exceptions.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import twilio from 'twilio';
import { createTelephonyClient, type TelephonyClient } from '../../src/telephony/client';
import { rejection } from './helpers';

const ACCOUNT = 'AC00000000000000000000000000000001';
const TOKEN = 'request-client-token';
const CALL_SID = 'CA00000000000000000000000000000002';

interface Seen {
  method: string;
  path: string;
  query: [string, string][];
  form: [string, string][];
  headers: Record<string, string | undefined>;
}

const callJson = (extra: object = {}) => ({ sid: CALL_SID, account_sid: ACCOUNT, status: 'queued', to: '+14155550100', from: '+14155550199', date_created: 'Tue, 01 Dec 2026 10:00:00 +0000', date_updated: 'Tue, 01 Dec 2026 10:00:01 +0000', start_time: 'Tue, 01 Dec 2026 10:00:02 +0000', end_time: null, ...extra });

let server: http.Server;
let baseUrl: string;
const seen: Seen[] = [];
/** Per path, a handler that takes over the answer (a slow body, a proxy's HTML page). */
const answers = new Map<string, (res: http.ServerResponse) => void>();

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x');
      const pick = ['authorization', 'user-agent', 'accept', 'accept-charset', 'content-type', 'connection'];
      seen.push({
        method: req.method ?? '',
        path: url.pathname,
        query: [...url.searchParams],
        form: [...new URLSearchParams(Buffer.concat(chunks).toString('utf8'))],
        headers: Object.fromEntries(pick.map((h) => [h, req.headers[h] as string | undefined])),
      });
      const custom = answers.get(url.pathname);
      if (custom) return custom(res);
      res.setHeader('content-type', 'application/json');
      if (url.pathname.endsWith('/Calls.json') && req.method === 'GET') {
        res.end(JSON.stringify({ calls: [callJson({ status: 'in-progress' })], page: 0, page_size: 5, uri: url.pathname, first_page_uri: url.pathname, next_page_uri: null, previous_page_uri: null, start: 0, end: 0 }));
      } else if (url.pathname.endsWith('/Calls.json')) {
        res.statusCode = 201;
        res.end(JSON.stringify(callJson()));
      } else if (url.pathname.includes('Missing')) {
        res.statusCode = 404;
        res.end(JSON.stringify({ code: 20404, message: 'The requested resource was not found', more_info: 'https://www.twilio.com/docs/errors/20404', status: 404 }));
      } else {
        res.end(JSON.stringify(callJson({ status: req.method === 'POST' ? 'completed' : 'ringing' })));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

beforeEach(() => {
  seen.length = 0;
  answers.clear();
});

const clientWith = (httpClient: 'node' | 'sdk', requestTimeoutMs?: number): TelephonyClient =>
  createTelephonyClient({ accountSid: ACCOUNT, authToken: TOKEN, apiBaseUrl: baseUrl, httpClient, ...(requestTimeoutMs ? { requestTimeoutMs } : {}) });

/** What a client's SDK calls produced: the instances as JSON and, for a failure, the exception's fields. */
async function exercise(client: TelephonyClient) {
  const created = await client.calls.create({
    to: '+14155550100',
    from: '+14155550199',
    twiml: '<Response><Say>Hello & welcome, 100% "quoted"</Say></Response>',
    statusCallback: 'http://127.0.0.1:1/v1/twilio/status?callId=c1&x=a b',
    statusCallbackMethod: 'POST',
    statusCallbackEvent: ['answered', 'completed'],
    machineDetection: 'DetectMessageEnd',
    asyncAmd: 'true',
    timeout: 25,
  });
  const listed = await client.calls.list({ status: 'in-progress', to: '+14155550100', limit: 5 });
  const fetched = await client.calls(CALL_SID).fetch();
  const updated = await client.calls(CALL_SID).update({ status: 'completed' });
  const missing = await rejection(client.calls('CAMissing000000000000000000000000').fetch());
  return {
    created: created.toJSON(),
    listed: listed.map((c) => c.toJSON()),
    fetched: fetched.toJSON(),
    updated: updated.toJSON(),
    missing: { isRestException: missing instanceof twilio.RestException, status: missing.status, code: missing.code, message: missing.message },
  };
}

test('the same SDK calls make the same requests and answers through node:http as through the SDK’s own client', async () => {
  const viaSdk = await exercise(clientWith('sdk'));
  const sdkRequests = seen.splice(0);
  const viaNode = await exercise(clientWith('node'));
  expect(seen).toEqual(sdkRequests);
  expect(viaNode).toEqual(viaSdk);
  // What that is, so "the same" cannot be two empty lists: the form repeats array fields, the list's filters ride the query.
  expect(sdkRequests.map((r) => `${r.method} ${r.path.replace(`/2010-04-01/Accounts/${ACCOUNT}`, '')}`)).toEqual(['POST /Calls.json', 'GET /Calls.json', `GET /Calls/${CALL_SID}.json`, `POST /Calls/${CALL_SID}.json`, 'GET /Calls/CAMissing000000000000000000000000.json']);
  expect(sdkRequests[0]!.form.filter(([k]) => k === 'StatusCallbackEvent')).toEqual([['StatusCallbackEvent', 'answered'], ['StatusCallbackEvent', 'completed']]);
  expect(sdkRequests[1]!.query).toEqual(expect.arrayContaining([['Status', 'in-progress'], ['To', '+14155550100'], ['PageSize', '5']]));
  expect(sdkRequests[0]!.headers.authorization).toBe(`Basic ${Buffer.from(`${ACCOUNT}:${TOKEN}`).toString('base64')}`);
  expect(viaNode.missing).toMatchObject({ isRestException: true, status: 404, code: 20404 });
});

test('a body that is not JSON (a proxy’s error page) fails the same way through both', async () => {
  const path = `/2010-04-01/Accounts/${ACCOUNT}/Calls/${CALL_SID}.json`;
  answers.set(path, (res) => {
    res.statusCode = 502;
    res.setHeader('content-type', 'text/html');
    res.end('<html><body>Bad Gateway</body></html>');
  });
  const failure = async (client: TelephonyClient) => {
    const err = await rejection(client.calls(CALL_SID).fetch());
    return { isRestException: err instanceof twilio.RestException, status: err.status, message: err.message };
  };
  const viaSdk = await failure(clientWith('sdk'));
  expect(await failure(clientWith('node'))).toEqual(viaSdk);
  expect(viaSdk.status).toBe(502);
});

test('the deadline covers the whole request: an answer that keeps trickling in is cut off at it, with the SDK client’s error code', async () => {
  const path = `/2010-04-01/Accounts/${ACCOUNT}/Calls/${CALL_SID}.json`;
  let written = 0;
  let trickle: NodeJS.Timeout | undefined;
  answers.set(path, (res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    const body = JSON.stringify(callJson());
    // One byte every 20 ms: never idle long enough for a per-socket inactivity timeout to fire.
    trickle = setInterval(() => {
      if (written < body.length) {
        res.write(body[written++]!);
      } else {
        clearInterval(trickle);
        res.end();
      }
    }, 20);
    res.on('close', () => clearInterval(trickle));
  });
  const err = await rejection(clientWith('node', 300).calls(CALL_SID).fetch());
  clearInterval(trickle);
  expect({ code: err.code, message: err.message }).toEqual({ code: 'ECONNABORTED', message: 'timeout of 300ms exceeded' });
  expect(written).toBeLessThan(JSON.stringify(callJson()).length);
});
