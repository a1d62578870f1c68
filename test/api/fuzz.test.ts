import { randomUUID } from 'node:crypto';
import twilio from 'twilio';
import { leadPhones, OutdialTestStack } from '../helpers/outdial';

/**
 * A black-box list of hostile requests against the running API: bodies, headers, IDs and signed
 * callbacks. Whatever comes in, the answer is a 4xx with the documented error body (or a success),
 * never a 5xx, never a stack trace.
 */
describe('hostile input', () => {
  let stack: OutdialTestStack;
  let businessId: string;
  let runId: string;
  let callId: string;
  let callbackUrl: string;
  let businessKey: string;

  beforeAll(async () => {
    stack = await OutdialTestStack.start({ carrier: { defaultScript: { dialMs: 2, ringMs: 5, talkMs: 20 } } });
    await stack.startWorker();
    const business = await stack.createBusiness();
    businessId = business.id;
    const run = await stack.createRun(businessId, leadPhones(2, '+1415556'));
    runId = run.id;
    await stack.runResult(run);
    const call = await stack.api<{ call: { id: string } }>('POST', `/v1/businesses/${businessId}/calls`, { to: '+14155560900' });
    callId = call.body.call.id;
    callbackUrl = `${stack.apiUrl}/v1/twilio/status?callId=${callId}`;
    businessKey = (await stack.api<{ apiKey: { secret: string } }>('POST', `/v1/businesses/${businessId}/api-keys`, {})).body.apiKey.secret;
  });
  afterAll(async () => {
    await stack.stop();
  });

  interface Hostile {
    name: string;
    method: string;
    path: string;
    body?: string | Buffer;
    headers?: Record<string, string>;
  }

  const json = (name: string, method: string, path: string, body: unknown, headers: Record<string, string> = {}): Hostile => ({
    name,
    method,
    path,
    body: typeof body === 'string' ? body : JSON.stringify(body),
    headers: { 'content-type': 'application/json', ...headers },
  });

  /** A callback signed exactly as the carrier signs it: the hostile part is its content, not its signature. */
  const signedCallback = (name: string, params: Record<string, string>, url = callbackUrl): Hostile => ({
    name,
    method: 'POST',
    path: url.slice(stack.apiUrl.length),
    body: new URLSearchParams(params).toString(),
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': twilio.getExpectedTwilioSignature(stack.carrier.authToken, url, params) },
  });

  function hostileRequests(): Hostile[] {
    const sid = `CA${'a'.repeat(32)}`;
    const business = `/v1/businesses/${businessId}`;
    const texts = ['\u0000', 'a\u0000b', '\ud800', '\udfff', 'x\ud83d', '\u202e\u0000', '\uffff', '🙂'.repeat(300), 'ǅ\u0301\u0301\u0301', ' '];
    const numbers = [2147483648, -1, 1e308, -0, 1.5, Number.MAX_SAFE_INTEGER + 2, 0, '3', null, true, [], {}];
    const ids = ['%00', '%E0%A4%A', '..%2F..%2Fetc', 'a'.repeat(5000), '00000000-0000-0000-0000-000000000000', `${randomUUID()}%00`, '%uD800', 'NaN', '-1', 'null'];
    const r: Hostile[] = [];
    for (const t of texts) {
      r.push(json(`business name ${JSON.stringify(t)}`, 'POST', '/v1/businesses', { name: t, callerId: '+15005550006' }));
      r.push(json(`lead name ${JSON.stringify(t)}`, 'POST', `${business}/runs`, { leads: [{ phone: '+14155569001', name: t }] }));
      r.push(json(`phone ${JSON.stringify(t)}`, 'POST', `${business}/calls`, { to: t }));
      r.push(json(`key name ${JSON.stringify(t)}`, 'POST', `${business}/api-keys`, { name: t }));
      r.push(json(`object key ${JSON.stringify(t)}`, 'POST', `${business}/runs`, { leads: [{ phone: '+14155569002', [t]: 1 }] }));
      r.push(json(`idempotency key ${JSON.stringify(t)}`, 'POST', '/v1/businesses', { name: 'x', callerId: '+15005550006' }, { 'idempotency-key': `k ${Buffer.from(t).toString('latin1').split('').filter((c) => c.charCodeAt(0) >= 0x20).join('')}` }));
    }
    for (const n of numbers) {
      r.push(json(`limit ${JSON.stringify(n)}`, 'POST', '/v1/businesses', { name: 'n', callerId: '+15005550006', maxConcurrentCalls: n }));
      r.push(json(`patch limit ${JSON.stringify(n)}`, 'PATCH', business, { maxConcurrentCalls: n }));
      r.push(signedCallback(`CallDuration ${JSON.stringify(n)}`, { CallSid: sid, CallStatus: 'completed', CallDuration: String(n) }));
      r.push(signedCallback(`SequenceNumber ${JSON.stringify(n)}`, { CallSid: sid, CallStatus: 'ringing', SequenceNumber: String(n) }));
      r.push(signedCallback(`ErrorCode ${JSON.stringify(n)}`, { CallSid: sid, CallStatus: 'failed', ErrorCode: String(n) }));
    }
    for (const id of ids) {
      r.push({ name: `run id ${id.slice(0, 40)}`, method: 'GET', path: `/v1/runs/${id}` });
      r.push({ name: `call id ${id.slice(0, 40)}`, method: 'GET', path: `/v1/calls/${id}` });
      r.push({ name: `business id ${id.slice(0, 40)}`, method: 'POST', path: `/v1/businesses/${id}/runs`, body: '{"leads":[{"phone":"+14155569003"}]}', headers: { 'content-type': 'application/json' } });
      r.push({ name: `pause id ${id.slice(0, 40)}`, method: 'POST', path: `/v1/runs/${id}/pause` });
      r.push(signedCallback(`callback callId ${id.slice(0, 40)}`, { CallSid: sid, CallStatus: 'completed' }, `${stack.apiUrl}/v1/twilio/status?callId=${id}`));
    }
    r.push(
      signedCallback('ErrorMessage with NUL', { CallSid: sid, CallStatus: 'failed', ErrorMessage: 'bad\u0000news' }),
      signedCallback('ErrorMessage lone surrogate', { CallSid: sid, CallStatus: 'failed', ErrorMessage: '\ud800' }),
      signedCallback('ErrorMessage huge', { CallSid: sid, CallStatus: 'failed', ErrorMessage: 'x'.repeat(100_000) }),
      signedCallback('unknown status', { CallSid: sid, CallStatus: 'exploded' }),
      signedCallback('CallSid too long', { CallSid: `CA${'a'.repeat(5000)}`, CallStatus: 'completed' }),
      signedCallback('no params', {}),
      { name: 'callback repeated params', method: 'POST', path: callbackUrl.slice(stack.apiUrl.length), body: `CallSid=${sid}&CallSid=${sid}&CallStatus=completed&CallStatus=busy`, headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': 'abc' } },
      { name: 'callback bad signature', method: 'POST', path: callbackUrl.slice(stack.apiUrl.length), body: `CallSid=${sid}&CallStatus=completed`, headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': '\u00ff'.repeat(4) } },
      { name: 'callback as JSON', method: 'POST', path: callbackUrl.slice(stack.apiUrl.length), body: '{"CallSid":1}', headers: { 'content-type': 'application/json', 'x-twilio-signature': 'abc' } },
      { name: 'callback broken percent-encoding', method: 'POST', path: callbackUrl.slice(stack.apiUrl.length), body: 'CallSid=%E0%A4%A&CallStatus=%', headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': 'abc' } },
      json('malformed JSON', 'POST', '/v1/businesses', '{"name": '),
      json('JSON array body', 'POST', '/v1/businesses', '[1,2,3]'),
      json('JSON scalar body', 'POST', `${business}/runs`, '"leads"'),
      json('JSON null body', 'POST', `${business}/calls`, 'null'),
      json('deep nesting', 'POST', `${business}/runs`, '['.repeat(5000) + ']'.repeat(5000)),
      json('leads not an array', 'POST', `${business}/runs`, { leads: 'all of them' }),
      json('too many leads', 'POST', `${business}/runs`, { leads: Array.from({ length: 100_001 }, () => 1) }),
      json('leads of numbers', 'POST', `${business}/runs`, { leads: [1, 2, 3] }),
      json('allowDuplicates not boolean', 'POST', `${business}/runs`, { leads: [{ phone: '+14155569004' }], allowDuplicates: 'yes' }),
      json('unknown field', 'POST', `${business}/calls`, { to: '+14155569005', from: '+19005550000' }),
      json('__proto__ pollution', 'POST', '/v1/businesses', '{"__proto__":{"admin":true},"name":"p","callerId":"+15005550006"}'),
      json('constructor pollution', 'POST', `${business}/runs`, '{"leads":[{"phone":"+14155569006","constructor":{"prototype":{"x":1}}}]}'),
      { name: 'oversized body', method: 'POST', path: '/v1/businesses', body: Buffer.alloc(21 * 1024 * 1024, 0x20), headers: { 'content-type': 'application/json' } },
      { name: 'text/plain body', method: 'POST', path: '/v1/businesses', body: 'name=x', headers: { 'content-type': 'text/plain' } },
      { name: 'form body', method: 'POST', path: `${business}/runs`, body: 'leads=1', headers: { 'content-type': 'application/x-www-form-urlencoded' } },
      { name: 'utf-16 charset', method: 'POST', path: '/v1/businesses', body: Buffer.from('{"name":"x"}', 'utf16le'), headers: { 'content-type': 'application/json; charset=utf-16' } },
      { name: 'unknown charset', method: 'POST', path: '/v1/businesses', body: '{}', headers: { 'content-type': 'application/json; charset=klingon' } },
      { name: 'gzip claimed, not gzip', method: 'POST', path: '/v1/businesses', body: '{}', headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' } },
      { name: 'unknown content-encoding', method: 'POST', path: '/v1/businesses', body: '{}', headers: { 'content-type': 'application/json', 'content-encoding': 'br2' } },
      { name: 'invalid UTF-8 bytes', method: 'POST', path: '/v1/businesses', body: Buffer.from([0x7b, 0x22, 0x6e, 0x22, 0x3a, 0x22, 0xc3, 0x28, 0xff, 0x22, 0x7d]), headers: { 'content-type': 'application/json' } },
      { name: 'Basic auth', method: 'GET', path: business, headers: { authorization: 'Basic YTpi' } },
      { name: 'Bearer with nothing', method: 'GET', path: business, headers: { authorization: 'Bearer ' } },
      { name: 'Bearer very long', method: 'GET', path: business, headers: { authorization: `Bearer ${'k'.repeat(8000)}` } },
      { name: 'Bearer odk_ lookalike', method: 'GET', path: business, headers: { authorization: `Bearer odk_${"'; DROP TABLE api_keys; --".padEnd(44, 'x')}` } },
      { name: 'Bearer latin-1', method: 'GET', path: business, headers: { authorization: 'Bearer \u00e9\u00e9\u00e9' } },
      { name: 'unknown method', method: 'PUT', path: business, body: '{}', headers: { 'content-type': 'application/json' } },
      { name: 'DELETE a run', method: 'DELETE', path: `/v1/runs/${runId}` },
      { name: 'cancel a finished run', method: 'POST', path: `/v1/runs/${runId}/cancel` },
      { name: 'resume a finished run', method: 'POST', path: `/v1/runs/${runId}/resume` },
      { name: 'query string pollution', method: 'GET', path: `/v1/runs/${runId}?a[b]=1&a=2&__proto__=x` },
      { name: 'double slash path', method: 'GET', path: `//v1//runs//${runId}` },
      { name: 'unknown route', method: 'GET', path: '/v1/../../etc/passwd' },
      json('webhook url with NUL', 'PUT', `${business}/webhook`, '{"url":"https://a.example.com/\\u0000"}'),
      json('webhook url huge', 'PUT', `${business}/webhook`, { url: `https://a.example.com/${'x'.repeat(5000)}` }),
      json('webhook url number', 'PUT', `${business}/webhook`, { url: 42, events: 'call.completed' }),
      json('webhook events object', 'PUT', `${business}/webhook`, { url: 'https://a.example.com/', events: { __proto__: ['call.completed'] } }),
      { name: 'webhook deliveries cursor garbage', method: 'GET', path: `${business}/webhook-deliveries?cursor=${encodeURIComponent('99999999999999999999.1')}&limit=1e3` },
      { name: 'webhook deliveries status array', method: 'GET', path: `${business}/webhook-deliveries?status[]=pending&status=failed` },
    );
    return r;
  }

  test('at least 100 hostile requests: every answer is a 4xx (or a success) with a JSON error body, never a 5xx or a stack trace', async () => {
    const requests = hostileRequests();
    expect(requests.length).toBeGreaterThanOrEqual(100);
    const seen: { name: string; status: number; code?: string }[] = [];
    for (const req of requests) {
      // The run and call routes as the business's own key would send them; the rest as an admin.
      const bearer = /^(lead name|phone|object key|run id|call id)/.test(req.name) ? businessKey : stack.adminKey;
      const key: Record<string, string> = req.headers?.authorization ? {} : { authorization: `Bearer ${bearer}` };
      const res = await fetch(stack.apiUrl + req.path, {
        method: req.method,
        headers: { ...key, ...req.headers },
        ...(req.body !== undefined ? { body: req.body } : {}),
      });
      const text = await res.text();
      seen.push({ name: req.name, status: res.status });
      expect([req.name, res.status < 500]).toEqual([req.name, true]);
      expect(text).not.toMatch(/\bat [\w.<>]+ \(|node_modules|\.ts:\d+/);
      if (res.status >= 400 && res.status !== 431) {
        const body = JSON.parse(text) as { error: { code: string; message: string } };
        expect([req.name, typeof body.error.code, typeof body.error.message]).toEqual([req.name, 'string', 'string']);
        seen.at(-1)!.code = body.error.code;
      }
    }
    // The hostile texts were refused, not stored.
    const stored = await stack.database.pool.query(
      `SELECT count(*)::int AS n FROM leads WHERE business_id = $1 AND (name LIKE '%' || chr(65533) || '%' OR phone NOT LIKE '+%')`,
      [businessId],
    );
    expect(stored.rows[0].n).toBe(0);
    expect(seen.filter((s) => s.code === 'invalid_text').length).toBeGreaterThanOrEqual(10);
    // The API still works, for the business whose IDs were thrown at it.
    expect((await stack.api('GET', `/v1/businesses/${businessId}`)).status).toBe(200);
    expect((await stack.api('GET', `/v1/calls/${callId}`)).status).toBe(200);
  });
});
