import { randomUUID } from 'node:crypto';
/**
 * The OpenAPI document against the running API: every route is called for real (a success and its
 * typical refusals), and each response's status and JSON body is validated against the document with
 * a JSON Schema 2020-12 validator. Every route the Express app serves must have its entry.
 */
import { Ajv2020 } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import type { Express } from 'express';
import twilio from 'twilio';
import { createApp } from '../../src/api/app';
import { openApiPath } from '../../src/api/openapi';
import { reserveDirectCall } from '../../src/claim/direct';
import { OutdialTestStack, pollUntil } from '../helpers/outdial';

type Operation = {
  parameters?: { name: string; in: string }[];
  requestBody?: { content: Record<string, unknown> };
  responses: Record<string, { content?: Record<string, unknown> }>;
};
type Spec = { openapi: string; paths: Record<string, Record<string, Operation>> };
type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

interface Req {
  key?: string | null;
  query?: string;
  body?: unknown;
  /** A body sent as it is, with this content type. */
  raw?: { type: string; text: string };
  headers?: Record<string, string>;
}

/** The app's routes, as `get /v1/runs/{runId}`, walking the router stack (routers mounted without a path). */
function appRoutes(app: Express): string[] {
  type Layer = { route?: { path: string; methods: Record<string, boolean> }; handle?: { stack?: Layer[] } };
  const out: string[] = [];
  const walk = (stack: Layer[]) => {
    for (const layer of stack) {
      if (layer.route) for (const method of Object.keys(layer.route.methods)) out.push(`${method} ${openApiPath(layer.route.path)}`);
      else if (layer.handle?.stack) walk(layer.handle.stack);
    }
  };
  walk((app as unknown as { router: { stack: Layer[] } }).router.stack);
  return out;
}

const pointer = (...parts: string[]) => parts.map((p) => encodeURIComponent(p.replace(/~/g, '~0').replace(/\//g, '~1'))).join('/');

describe('OpenAPI document', () => {
  let stack: OutdialTestStack;
  let spec: Spec;
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  /** `method path` → the statuses seen and validated. */
  const seen = new Map<string, Set<number>>();

  /** Calls the route `method template` (params filled in order) and checks the answer against the document. */
  async function call(method: string, template: string, params: string[], req: Req = {}): Promise<{ status: number; body: Json; text: string }> {
    let i = 0;
    const path = template.replace(/\{[^}]+\}/g, () => encodeURIComponent(params[i++]!));
    const key = req.key === undefined ? stack.adminKey : req.key;
    const res = await fetch(`${stack.apiUrl}${path}${req.query ? `?${req.query}` : ''}`, {
      method: method.toUpperCase(),
      headers: {
        ...(key === null ? {} : { authorization: `Bearer ${key}` }),
        ...(req.body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...(req.raw ? { 'content-type': req.raw.type } : {}),
        ...req.headers,
      },
      ...(req.body !== undefined ? { body: JSON.stringify(req.body) } : req.raw ? { body: req.raw.text } : {}),
    });
    const text = await res.text();
    const operation = spec.paths[template]?.[method];
    expect([method, template, operation === undefined ? 'not in the document' : 'in the document']).toEqual([method, template, 'in the document']);
    const response = operation!.responses[String(res.status)];
    expect([method, template, res.status, response === undefined ? 'status not in the document' : 'documented']).toEqual([method, template, res.status, 'documented']);
    const type = (res.headers.get('content-type') ?? '').split(';')[0]!;
    let body: Json = {};
    if (response!.content) {
      expect([method, template, res.status, Object.keys(response!.content)]).toEqual([method, template, res.status, [type]]);
      if (type === 'application/json') {
        body = JSON.parse(text) as Json;
        const validate = ajv.getSchema(`openapi#/${pointer('paths', template, method, 'responses', String(res.status), 'content', type, 'schema')}`)!;
        const valid = validate(body);
        expect([method, template, res.status, valid ? 'valid' : { body, errors: validate.errors }]).toEqual([method, template, res.status, 'valid']);
      }
    } else {
      expect([method, template, res.status, text]).toEqual([method, template, res.status, '']);
    }
    // What was sent is documented (but what is refused as unknown): its query parameters, its body's type; a body that succeeded fits its schema.
    const queryNames = [...new URLSearchParams(req.query ?? '').keys()];
    const documentedQuery = (operation!.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name);
    expect([method, template, queryNames.filter((n) => !documentedQuery.includes(n))]).toEqual([method, template, res.status === 400 ? expect.any(Array) : []]);
    const sentType = req.body !== undefined ? 'application/json' : req.raw?.type;
    if (sentType && res.status !== 415) {
      expect([method, template, Object.keys(operation!.requestBody?.content ?? {})]).toEqual([method, template, expect.arrayContaining([sentType])]);
      if (req.body !== undefined && res.status < 300) {
        const validate = ajv.getSchema(`openapi#/${pointer('paths', template, method, 'requestBody', 'content', sentType, 'schema')}`)!;
        expect([method, template, 'request', validate(req.body) ? 'valid' : validate.errors]).toEqual([method, template, 'request', 'valid']);
      }
    }
    const id = `${method} ${template}`;
    seen.set(id, (seen.get(id) ?? new Set()).add(res.status));
    return { status: res.status, body, text };
  }

  /** `call`, expecting this status. */
  async function expectCall(status: number, method: string, template: string, params: string[] = [], req: Req = {}) {
    const res = await call(method, template, params, req);
    expect([method, template, res.status, res.status === status ? '' : res.text]).toEqual([method, template, status, '']);
    return res;
  }

  let businessId: string;
  let key: string;
  const otherBusiness = '00000000-0000-4000-8000-000000000000';

  beforeAll(async () => {
    stack = await OutdialTestStack.start({ carrier: { defaultScript: { dialMs: 2, ringMs: 5, talkMs: 10 } } });
    await stack.startWorker();
    const res = await fetch(`${stack.apiUrl}/v1/openapi.json`);
    spec = (await res.json()) as Spec;
    ajv.addSchema(spec, 'openapi');
  });
  afterAll(async () => {
    await stack.stop();
  });

  test('is OpenAPI 3.1, served without a key', async () => {
    expect(spec.openapi).toBe('3.1.0');
    // The validator is live: a body short of a field, or with one the view does not have, fails.
    const business = ajv.getSchema(`openapi#/${pointer('paths', '/v1/businesses/{businessId}', 'get', 'responses', '200', 'content', 'application/json', 'schema')}`)!;
    const created = await stack.api<{ business: Json }>('POST', '/v1/businesses', { name: 'Shape', callerId: '+16505550125' });
    expect(business(created.body)).toBe(true);
    const { name: _name, ...short } = created.body.business;
    expect(business({ business: short })).toBe(false);
    expect(business({ business: { ...created.body.business, extra: 1 } })).toBe(false);
    expect(business({ business: { ...created.body.business, createdAt: 'yesterday' } })).toBe(false);
    await expectCall(200, 'get', '/v1/openapi.json', [], { key: null });
    await expectCall(200, 'get', '/healthz', [], { key: null });
    await expectCall(200, 'get', '/metrics', [], { key: null });
    await expectCall(200, 'get', '/runs/{runId}', [randomUUID()], { key: null });
  });

  test('businesses and keys', async () => {
    const created = await expectCall(201, 'post', '/v1/businesses', [], {
      body: { name: 'Spec Co', callerId: '+16505550123', callerIds: ['+16505550124'], callingWindow: { alwaysOpen: true }, voiceApp: { twiml: '<Response><Hangup/></Response>' } },
    });
    businessId = created.body.business.id;
    await expectCall(400, 'post', '/v1/businesses', [], { body: { name: '', callerId: '555' } });
    await expectCall(401, 'post', '/v1/businesses', [], { key: null, body: { name: 'x', callerId: '+16505550123' } });
    await expectCall(415, 'post', '/v1/businesses', [], { raw: { type: 'text/plain', text: 'name=x' } });
    await expectCall(400, 'post', '/v1/businesses', [], { raw: { type: 'application/json', text: '{"name":' } });
    const minted = await expectCall(201, 'post', '/v1/businesses/{businessId}/api-keys', [businessId], { body: { name: 'spec' } });
    key = minted.body.apiKey.secret;
    await expectCall(404, 'post', '/v1/businesses/{businessId}/api-keys', [otherBusiness], { body: {} });
    await expectCall(403, 'post', '/v1/businesses', [], { key, body: { name: 'x', callerId: '+16505550123' } });

    await expectCall(200, 'get', '/v1/businesses', [], { query: 'limit=2' });
    await expectCall(400, 'get', '/v1/businesses', [], { query: 'cursor=nope' });
    await expectCall(403, 'get', '/v1/businesses', [], { key });
    await expectCall(200, 'get', '/v1/businesses/{businessId}', [businessId], { key });
    await expectCall(404, 'get', '/v1/businesses/{businessId}', [otherBusiness], { key });
    await expectCall(200, 'patch', '/v1/businesses/{businessId}', [businessId], {
      body: { maxConcurrentCalls: 4, callingWindow: { days: ['mon', 'tue'], start: '00:00', end: '23:59' } },
    });
    await expectCall(200, 'patch', '/v1/businesses/{businessId}', [businessId], { body: { callingWindow: { alwaysOpen: true } } });
    await expectCall(400, 'patch', '/v1/businesses/{businessId}', [businessId], { body: { maxConcurrentCalls: 0 } });
    await expectCall(404, 'patch', '/v1/businesses/{businessId}', [otherBusiness], { body: { name: 'x' } });

    await expectCall(200, 'get', '/v1/businesses/{businessId}/api-keys', [businessId], { key });
    await expectCall(404, 'get', '/v1/businesses/{businessId}/api-keys', [otherBusiness], { key });
    const spare = await expectCall(201, 'post', '/v1/businesses/{businessId}/api-keys', [businessId], { body: {} });
    await expectCall(200, 'delete', '/v1/businesses/{businessId}/api-keys/{keyId}', [businessId, spare.body.apiKey.id], { key });
    await expectCall(404, 'delete', '/v1/businesses/{businessId}/api-keys/{keyId}', [businessId, otherBusiness], { key });
    await expectCall(401, 'get', '/v1/businesses/{businessId}', [businessId], { key: spare.body.apiKey.secret });
  });

  test('runs, their leads and results', async () => {
    const run = await expectCall(201, 'post', '/v1/businesses/{businessId}/runs', [businessId], {
      key,
      body: {
        machineDetection: { mode: 'Enable' },
        retries: { busy: { maxAttempts: 2, delaySeconds: 0 } },
        leads: [{ phone: '+12125553101', name: 'Ada', variables: { plan: 'gold' } }, { phone: '+12125553102' }],
      },
    });
    const runId = run.body.run.id as string;
    await expectCall(201, 'post', '/v1/businesses/{businessId}/runs', [businessId], {
      key,
      query: `options=${encodeURIComponent(JSON.stringify({ maxConcurrentCalls: 2 }))}`,
      raw: { type: 'text/csv', text: 'phone,name,plan\n+12125553103,Grace,silver\n' },
    });
    await expectCall(400, 'post', '/v1/businesses/{businessId}/runs', [businessId], { key, body: { leads: [{ phone: '555' }] } });
    await expectCall(400, 'post', '/v1/businesses/{businessId}/runs', [businessId], { key, raw: { type: 'text/csv', text: 'number\n+12125553103\n' } });
    await expectCall(422, 'post', '/v1/businesses/{businessId}/runs', [businessId], { key, body: { callerId: '+12125559999', leads: [{ phone: '+12125553104' }] } });
    await expectCall(404, 'post', '/v1/businesses/{businessId}/runs', [otherBusiness], { key, body: { leads: [{ phone: '+12125553104' }] } });

    await pollUntil(async () => (await stack.getRun(runId)).finishedAt !== null);
    await expectCall(200, 'get', '/v1/runs/{runId}', [runId], { key });
    await expectCall(404, 'get', '/v1/runs/{runId}', ['not-a-uuid'], { key });
    // The run is over: its stream replays, sends progress and ends.
    const stream = await expectCall(200, 'get', '/v1/runs/{runId}/events', [runId], { key });
    expect(stream.text).toContain('event: end');
    await expectCall(400, 'get', '/v1/runs/{runId}/events', [runId], { key, query: 'lastEventId=yesterday' });
    await expectCall(404, 'get', '/v1/runs/{runId}/events', [otherBusiness], { key });
    const jobs = await expectCall(200, 'get', '/v1/runs/{runId}/jobs', [runId], { key, query: 'limit=1' });
    await expectCall(200, 'get', '/v1/runs/{runId}/jobs', [runId], { key, query: `cursor=${jobs.body.nextCursor}&status=completed` });
    await expectCall(400, 'get', '/v1/runs/{runId}/jobs', [runId], { key, query: 'outcome=maybe' });
    const csv = await expectCall(200, 'get', '/v1/runs/{runId}/results.csv', [runId], { key });
    expect(csv.text.split('\n')[0]).toBe('lead_id,phone,name,status,outcome,attempts,duration_seconds,answered_by,error_code,error_message,last_call_at,plan');
    await expectCall(404, 'get', '/v1/runs/{runId}/results.csv', [otherBusiness], { key });
    await expectCall(400, 'get', '/v1/runs/{runId}/results.csv', [runId], { key, query: 'x=1' });
    await expectCall(200, 'get', '/v1/businesses/{businessId}/runs', [businessId], { key, query: 'status=completed,running&limit=1' });
    await expectCall(400, 'get', '/v1/businesses/{businessId}/runs', [businessId], { key, query: 'limit=500' });
    await expectCall(404, 'get', '/v1/businesses/{businessId}/runs', [otherBusiness], { key });

    // A run waiting for its start: paused, resumed, canceled; then nothing more.
    const later = await expectCall(201, 'post', '/v1/businesses/{businessId}/runs', [businessId], {
      key,
      body: { startAt: new Date(Date.now() + 3_600_000).toISOString(), stopAt: new Date(Date.now() + 7_200_000).toISOString(), keepOpen: true, leads: [{ phone: '+12125553105' }] },
    });
    const laterId = later.body.run.id as string;
    await pollUntil(async () => (await stack.getRun(laterId)).status === 'running');
    await expectCall(200, 'post', '/v1/runs/{runId}/pause', [laterId], { key });
    await expectCall(201, 'post', '/v1/runs/{runId}/leads', [laterId], { key, body: { leads: [{ phone: '+12125553106', name: 'Lin' }] } });
    await expectCall(201, 'post', '/v1/runs/{runId}/leads', [laterId], { key, query: `options=${encodeURIComponent(JSON.stringify({ allowDuplicates: true }))}`, raw: { type: 'text/csv', text: 'phone\n+12125553106\n' } });
    await expectCall(400, 'post', '/v1/runs/{runId}/leads', [laterId], { key, body: { leads: [{ phone: '555' }] } });
    await expectCall(404, 'post', '/v1/runs/{runId}/leads', [otherBusiness], { key, body: { leads: [{ phone: '+12125553107' }] } });
    await expectCall(409, 'post', '/v1/runs/{runId}/leads', [runId], { key, body: { leads: [{ phone: '+12125553107' }] } });
    await expectCall(200, 'post', '/v1/runs/{runId}/close', [laterId], { key });
    await expectCall(404, 'post', '/v1/runs/{runId}/close', [otherBusiness], { key });
    await expectCall(200, 'post', '/v1/runs/{runId}/resume', [laterId], { key });
    await expectCall(200, 'post', '/v1/runs/{runId}/cancel', [laterId], { key });
    await pollUntil(async () => (await stack.getRun(laterId)).status === 'canceled');
    await expectCall(409, 'post', '/v1/runs/{runId}/resume', [laterId], { key });
    await expectCall(409, 'post', '/v1/runs/{runId}/pause', [laterId], { key });
    await expectCall(404, 'post', '/v1/runs/{runId}/cancel', [otherBusiness], { key });
  });

  test('calls and the carrier callbacks', async () => {
    const placed = await expectCall(201, 'post', '/v1/businesses/{businessId}/calls', [businessId], {
      key,
      body: { to: '+12125553201', variables: { plan: 'gold' }, machineDetection: { mode: 'Enable', async: true } },
    });
    const callId = placed.body.call.id as string;
    await expectCall(400, 'post', '/v1/businesses/{businessId}/calls', [businessId], { key, body: { to: 'nobody' } });
    await expectCall(404, 'post', '/v1/businesses/{businessId}/calls', [otherBusiness], { key, body: { to: '+12125553201' } });
    await pollUntil(async () => (await stack.api<{ call: { endedAt: string | null } }>('GET', `/v1/calls/${callId}`)).body.call.endedAt !== null);
    await expectCall(200, 'get', '/v1/calls/{callId}', [callId], { key });
    await expectCall(404, 'get', '/v1/calls/{callId}', [otherBusiness], { key });
    await expectCall(200, 'get', '/v1/businesses/{businessId}/calls', [businessId], { key, query: `direction=direct&status=completed&since=${new Date(Date.now() - 60_000).toISOString()}` });
    await expectCall(400, 'get', '/v1/businesses/{businessId}/calls', [businessId], { key, query: 'until=soon' });

    // A repeat of the call's final status, signed as the carrier signs it: accepted, changes nothing.
    const stored = await stack.database.pool.query<{ status_callback_url: string; amd_callback_url: string; twilio_call_sid: string }>(
      'SELECT status_callback_url, amd_callback_url, twilio_call_sid FROM calls WHERE id = $1',
      [callId],
    );
    const { status_callback_url: statusUrl, amd_callback_url: amdUrl, twilio_call_sid: sid } = stored.rows[0]!;
    const signed = (url: string, params: Record<string, string>, signature = twilio.getExpectedTwilioSignature(stack.carrier.authToken, url, params)): Req => ({
      key: null,
      query: new URL(url).search.slice(1),
      raw: { type: 'application/x-www-form-urlencoded', text: new URLSearchParams(params).toString() },
      headers: { 'x-twilio-signature': signature },
    });
    const status = { CallSid: sid, CallStatus: 'completed', CallDuration: '1', SequenceNumber: '99' };
    await expectCall(204, 'post', '/v1/twilio/status', [], signed(statusUrl, status));
    await expectCall(403, 'post', '/v1/twilio/status', [], signed(statusUrl, status, 'bad'));
    const { headers: _unsigned, ...unsigned } = signed(statusUrl, status);
    await expectCall(400, 'post', '/v1/twilio/status', [], unsigned);
    await expectCall(204, 'post', '/v1/twilio/amd', [], signed(amdUrl, { CallSid: sid, AnsweredBy: 'human' }));
    await expectCall(400, 'post', '/v1/twilio/amd', [], signed(amdUrl, { CallSid: sid, AnsweredBy: 'robot' }));
  });

  test('calls held for an operator', async () => {
    // As if reconciliation heard 404 from the carrier for a call of the business.
    const reserved = await reserveDirectCall(stack.database, businessId, { to: '+12125553299' }, stack.apiUrl);
    if (!reserved.ok) throw new Error(`reservation refused: ${reserved.reason}`);
    const callId = reserved.call.callId;
    await stack.database.pool.query('UPDATE calls SET carrier_unknown_at = now() WHERE id = $1', [callId]);
    const held = await expectCall(200, 'get', '/v1/held-calls');
    expect(held.body.data.map((h: Json) => h.call.id)).toContain(callId);
    await expectCall(403, 'get', '/v1/held-calls', [], { key });
    await expectCall(400, 'post', '/v1/calls/{callId}/release', [callId], { body: { reason: '' } });
    await expectCall(403, 'post', '/v1/calls/{callId}/release', [callId], { key, body: { reason: 'gone at the carrier' } });
    await expectCall(404, 'post', '/v1/calls/{callId}/release', [otherBusiness], { body: { reason: 'gone at the carrier' } });
    await expectCall(200, 'post', '/v1/calls/{callId}/release', [callId], { body: { reason: 'gone at the carrier', status: 'canceled' } });
    await expectCall(409, 'post', '/v1/calls/{callId}/release', [callId], { body: { reason: 'gone at the carrier' } });
  });

  test('do-not-call lists', async () => {
    for (const [base, params] of [
      ['/v1/businesses/{businessId}/do-not-call', [businessId]],
      ['/v1/do-not-call', []],
    ] as const) {
      const who = { key: base === '/v1/do-not-call' ? stack.adminKey : key };
      await expectCall(200, 'post', base, [...params], { ...who, body: { numbers: ['+12125553301', '+1 (212) 555-3302'], reason: 'asked' } });
      await expectCall(400, 'post', base, [...params], { ...who, body: { numbers: [] } });
      await expectCall(200, 'get', base, [...params], { ...who, query: 'limit=1' });
      await expectCall(400, 'get', base, [...params], { ...who, query: 'limit=0' });
      await expectCall(200, 'get', `${base}/{phone}`, [...params, '+12125553301'], who);
      await expectCall(400, 'get', `${base}/{phone}`, [...params, 'not-a-number'], who);
      await expectCall(200, 'delete', `${base}/{phone}`, [...params, '+12125553302'], who);
      await expectCall(404, 'delete', `${base}/{phone}`, [...params, '+12125553302'], who);
    }
    await expectCall(403, 'get', '/v1/do-not-call', [], { key });
    await expectCall(404, 'get', '/v1/businesses/{businessId}/do-not-call', [otherBusiness], { key });
    await expectCall(422, 'post', '/v1/businesses/{businessId}/calls', [businessId], { key, body: { to: '+12125553301' } });
  });

  test('webhooks', async () => {
    const base = '/v1/businesses/{businessId}/webhook';
    await expectCall(404, 'get', base, [businessId], { key });
    await expectCall(201, 'put', base, [businessId], { key, body: { url: 'https://example.com/hooks' } });
    await expectCall(200, 'put', base, [businessId], { key, body: { url: 'https://example.com/hooks', events: ['call.completed'] } });
    await expectCall(400, 'put', base, [businessId], { key, body: { url: 'ftp://example.com' } });
    await expectCall(404, 'put', base, [otherBusiness], { key, body: { url: 'https://example.com/hooks' } });
    await expectCall(200, 'get', base, [businessId], { key });
    await expectCall(200, 'post', `${base}/rotate-secret`, [businessId], { key, body: { keepPreviousSeconds: 0 } });
    await expectCall(400, 'post', `${base}/rotate-secret`, [businessId], { key, body: { keepPreviousSeconds: -1 } });
    await expectCall(200, 'get', '/v1/businesses/{businessId}/webhook-deliveries', [businessId], { key, query: 'status=pending,delivered&limit=5' });
    await expectCall(400, 'get', '/v1/businesses/{businessId}/webhook-deliveries', [businessId], { key, query: 'status=lost' });
    await expectCall(200, 'delete', base, [businessId], { key });
    await expectCall(404, 'delete', base, [businessId], { key });
  });

  test('every route of the app has its entry, and every entry was answered with a documented success above', () => {
    const app = createApp(stack.deps());
    const routes = appRoutes(app);
    expect(routes.length).toBeGreaterThan(20);
    const documented = Object.entries(spec.paths).flatMap(([path, ops]) => Object.keys(ops).map((method) => `${method} ${path}`));
    expect(routes.filter((r) => !documented.includes(r))).toEqual([]);
    expect(documented.filter((r) => !routes.includes(r))).toEqual([]);
    const succeeded = (id: string) => [...(seen.get(id) ?? [])].some((s) => s >= 200 && s < 300);
    expect(documented.filter((id) => !succeeded(id))).toEqual([]);
  });
});
