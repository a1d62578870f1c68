import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import Ajv, { type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import twilio from 'twilio';
import { startSandboxCarrier, type SandboxCarrier } from '../../src/sandbox-carrier';
import { CarrierRequestClient } from '../../src/telephony/request-client';
import { CallbackReceiver, FROM } from './helpers';

/**
 * The carrier's responses, and the requests the SDK sends it, checked against Twilio's own OpenAPI
 * description of the Calls endpoints, read from the shared reference at test time.
 */

/** The team's reference copy beside the checkout, else the identical copy kept in test/fixtures. */
const SHARED_SPEC_PATH = path.resolve(__dirname, '../../../shared/reference/twilio-openapi-calls.json');
const VENDORED_SPEC_PATH = path.resolve(__dirname, '../fixtures/twilio-openapi-calls.json');
const SPEC_PATH = existsSync(SHARED_SPEC_PATH) ? SHARED_SPEC_PATH : VENDORED_SPEC_PATH;

interface Operation {
  parameters?: Array<{ name: string; in: string; schema: object; required?: boolean }>;
  requestBody?: { content: Record<string, { schema: object }> };
  responses: Record<string, { content?: Record<string, { schema: object; examples?: Record<string, { value: unknown }> }> }>;
}
interface Spec {
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, object> };
}

function loadSpec(): Spec {
  if (!existsSync(SPEC_PATH)) {
    throw new Error(
      `Twilio's OpenAPI description is missing: expected ${SHARED_SPEC_PATH} or ${VENDORED_SPEC_PATH}`,
    );
  }
  return JSON.parse(readFileSync(SPEC_PATH, 'utf8')) as Spec;
}

const RFC2822 = /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} \+0000$/;

/** Twilio's own format names; the OpenAPI `nullable` keyword is understood by Ajv itself. */
function makeAjv(opts: { coerce: boolean }): Ajv {
  const ajv = new Ajv({ strict: true, allErrors: true, ...(opts.coerce ? { coerceTypes: 'array' as const } : {}) });
  addFormats(ajv);
  ajv.addKeyword('x-twilio');
  ajv.addFormat('date-time-rfc-2822', RFC2822);
  ajv.addFormat('currency', /^[A-Z]{3}$/);
  ajv.addFormat('endpoint', /^(\+[1-9]\d{1,14}|client:\S+|sip:\S+|sim:\S+)$/);
  ajv.addFormat('phone-number', /^\+[1-9]\d{1,14}$/);
  ajv.addFormat('http-method', /^(GET|POST)$/);
  ajv.addFormat('twiml', true);
  return ajv;
}

/**
 * OpenAPI → JSON Schema for Ajv: `#/components/schemas/X` points into one schema registered as
 * `twilio-calls`, and Twilio's `uri-map` (a format on an object, which JSON Schema formats cannot
 * express) becomes "an object of URI-reference strings".
 */
function toJsonSchema<T>(value: T): T {
  const rewritten = JSON.parse(JSON.stringify(value).replaceAll('"#/components/schemas/', '"twilio-calls#/definitions/')) as T;
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(walk);
    if (!node || typeof node !== 'object') return;
    const obj = node as Record<string, unknown>;
    if (obj.format === 'uri-map') {
      delete obj.format;
      obj.additionalProperties = { type: 'string', format: 'uri-reference' };
    }
    Object.values(obj).forEach(walk);
  };
  walk(rewritten);
  return rewritten;
}

/**
 * The OpenAPI marks the list's paging URIs `format: uri`, yet Twilio (and the spec's own examples)
 * return them relative to https://api.twilio.com; they are checked as URI references.
 */
function relativePagingUris(schema: object): object {
  const copy = JSON.parse(JSON.stringify(schema)) as { properties: Record<string, { format?: string }> };
  for (const key of ['first_page_uri', 'next_page_uri', 'previous_page_uri', 'uri']) {
    const prop = copy.properties[key];
    if (prop?.format === 'uri') prop.format = 'uri-reference';
  }
  return copy;
}

interface Exchange {
  method: string;
  uri: string;
  statusCode: number;
  body: unknown;
}

/** Outdial's transport for the SDK (request-client.test.ts shows it sends what the SDK's own does), recording what came back on the wire. */
class CapturingClient extends CarrierRequestClient {
  readonly exchanges: Exchange[] = [];

  override async request<TData>(opts: Parameters<CarrierRequestClient['request']>[0] & { data?: TData }) {
    const res = await super.request<TData>(opts);
    this.exchanges.push({ method: opts.method, uri: opts.uri, statusCode: res.statusCode, body: typeof res.body === 'string' && res.body ? JSON.parse(res.body) : res.body });
    return res;
  }
}

let spec: Spec;
let carrier: SandboxCarrier;
let receiver: CallbackReceiver;
let http: CapturingClient;
let client: twilio.Twilio;
const validators: Record<string, ValidateFunction> = {};

function expectValid(name: string, data: unknown): void {
  const validate = validators[name];
  if (!validate) throw new Error(`no validator ${name}`);
  const ok = validate(data);
  if (!ok) throw new Error(`${name} does not conform to the OpenAPI description: ${JSON.stringify(validate.errors, null, 2)}\n${JSON.stringify(data, null, 2)}`);
}

beforeAll(async () => {
  spec = loadSpec();
  const list = spec.paths['/2010-04-01/Accounts/{AccountSid}/Calls.json'];
  const one = spec.paths['/2010-04-01/Accounts/{AccountSid}/Calls/{Sid}.json'];
  if (!list?.post || !list.get || !one?.get || !one.post || !one.delete) throw new Error(`${SPEC_PATH} lacks the Calls operations`);
  const json = (op: Operation, status: string) => op.responses[status]?.content?.['application/json']?.schema ?? {};
  const form = (op: Operation) => op.requestBody?.content['application/x-www-form-urlencoded']?.schema ?? {};
  const params = (op: Operation, where: string) => {
    const ps = (op.parameters ?? []).filter((p) => p.in === where);
    return {
      type: 'object',
      properties: Object.fromEntries(ps.map((p) => [p.name, p.schema])),
      required: ps.filter((p) => p.required).map((p) => p.name),
      additionalProperties: false,
    };
  };
  // The SDK must send only what the spec declares: unknown form fields fail too.
  const closed = (schema: object) => ({ ...schema, additionalProperties: false });

  for (const [coerce, names] of [
    [false, ['create', 'fetch', 'update', 'list']],
    [true, ['createRequest', 'updateRequest', 'listQuery', 'callPath', 'listPath']],
  ] as const) {
    const ajv = makeAjv({ coerce });
    ajv.addSchema(toJsonSchema({ definitions: spec.components.schemas }), 'twilio-calls');
    const schemas: Record<string, object> = {
      create: json(list.post, '201'),
      list: relativePagingUris(json(list.get, '200')),
      fetch: json(one.get, '200'),
      update: json(one.post, '200'),
      createRequest: closed(form(list.post)),
      updateRequest: closed(form(one.post)),
      listQuery: params(list.get, 'query'),
      callPath: params(one.get, 'path'),
      listPath: params(list.post, 'path'),
    };
    for (const name of names) validators[name] = ajv.compile(toJsonSchema(schemas[name] ?? {}));
  }

  carrier = await startSandboxCarrier({ port: 0 });
  receiver = await CallbackReceiver.start(carrier.authToken);
  http = new CapturingClient({ baseUrl: carrier.url, maxRetries: 3 });
  client = twilio(carrier.accountSid, carrier.authToken, { httpClient: http });
});

afterAll(async () => {
  await carrier?.stop();
  await receiver?.stop();
});

test('the validators accept the OpenAPI’s own examples and reject a malformed resource', () => {
  const examples = spec.paths['/2010-04-01/Accounts/{AccountSid}/Calls.json']?.get?.responses['200']?.content?.['application/json']?.examples ?? {};
  expect(Object.keys(examples).length).toBeGreaterThan(0);
  for (const example of Object.values(examples)) expectValid('list', example.value);
  expect(validators.fetch?.({ sid: 'CA123', date_created: '2024-01-01T00:00:00Z', status: 'initiated' })).toBe(false);
  expect([...new Set(validators.fetch?.errors?.map((e) => e.instancePath))].sort()).toEqual(['/date_created', '/sid', '/status']);
});

test('create, fetch, update, list and delete through the SDK: every response and every request conforms', async () => {
  carrier.queueOutcomes(['hold']);
  const call = await client.calls.create({
    to: '+14155558800',
    from: FROM,
    url: receiver.twimlUrl(),
    method: 'POST',
    fallbackUrl: receiver.twimlUrl('/fallback'),
    fallbackMethod: 'POST',
    machineDetection: 'DetectMessageEnd',
    machineDetectionTimeout: 30,
    asyncAmd: 'true',
    asyncAmdStatusCallback: `${receiver.url}/amd`,
    asyncAmdStatusCallbackMethod: 'POST',
    statusCallback: `${receiver.url}/status`,
    statusCallbackEvent: ['initiated', 'ringing', 'answered', 'completed'],
    statusCallbackMethod: 'POST',
    timeout: 30,
    timeLimit: 600,
    record: false,
  });
  await carrier.waitForCall(call.sid, 'in-progress');
  // Fetched once the async AMD result is in, so answered_by is checked filled too.
  await carrier.waitForCallbacks(1, { callSid: call.sid, event: 'amd' });
  expect((await client.calls(call.sid).fetch()).answeredBy).toBe('human');
  await client.calls(call.sid).update({ url: 'http://127.0.0.1/next', method: 'GET' });
  await client.calls(call.sid).update({ status: 'completed' });
  await client.calls(call.sid).fetch();
  for (const to of ['+14155558801', '+14155558802', '+14155558803']) await client.calls.create({ to, from: FROM, twiml: '<Response/>' });
  await carrier.whenIdle();
  await client.calls.list({ pageSize: 2, limit: 4, status: 'completed', from: FROM, startTimeAfter: new Date(Date.now() - 60_000) });
  await client.calls.list({ to: '+14155558801', startTime: new Date() });
  expect(await client.calls(call.sid).remove()).toBe(true);

  const byKind = { create: 0, fetch: 0, update: 0, list: 0 };
  for (const x of http.exchanges) {
    const { pathname } = new URL(x.uri);
    const isList = pathname.endsWith('/Calls.json');
    if (x.method === 'delete') {
      expect(x.statusCode).toBe(204);
      continue;
    }
    const kind = isList ? (x.method === 'post' ? 'create' : 'list') : x.method === 'post' ? 'update' : 'fetch';
    expect(x.statusCode).toBe(kind === 'create' ? 201 : 200);
    expectValid(kind, x.body);
    byKind[kind]++;
  }
  expect(byKind).toEqual({ create: 4, fetch: 2, update: 2, list: 3 });

  // The created resource looks like a real create: queued, outbound-api, nothing filled yet.
  const created = http.exchanges.find((x) => x.method === 'post')?.body as Record<string, unknown>;
  expect(created).toMatchObject({ status: 'queued', direction: 'outbound-api', api_version: '2010-04-01', start_time: null, end_time: null, duration: null, price: null });

  // What the SDK put on the wire, as the carrier received it.
  for (const r of carrier.requests()) {
    const sid = /\/Calls\/([^/]+)\.json$/.exec(r.path)?.[1];
    expectValid(sid ? 'callPath' : 'listPath', sid ? { AccountSid: carrier.accountSid, Sid: sid } : { AccountSid: carrier.accountSid });
    if (r.method === 'POST' && !sid) expectValid('createRequest', structuredClone(r.form));
    else if (r.method === 'POST') expectValid('updateRequest', structuredClone(r.form));
    else if (r.method === 'GET' && !sid) expectValid('listQuery', structuredClone(r.query));
  }
  const createForm = carrier.requests()[0]?.form;
  expect(createForm?.StatusCallbackEvent).toEqual(['initiated', 'ringing', 'answered', 'completed']);
});

test('the spec copy in test/fixtures is the reference copy, unchanged', () => {
  const vendored = readFileSync(VENDORED_SPEC_PATH, 'utf8');
  expect(JSON.parse(vendored)).toHaveProperty(['paths', '/2010-04-01/Accounts/{AccountSid}/Calls.json']);
  if (existsSync(SHARED_SPEC_PATH)) expect(vendored).toBe(readFileSync(SHARED_SPEC_PATH, 'utf8'));
});
