import { OpenAPIRegistry, OpenApiGeneratorV31 } from '@asteasolutions/zod-to-openapi';
import { Router } from 'express';
import { z } from 'zod';
import { MAX_PAGE_LIMIT } from '../domain/pagination';
import { STATUS_CALLBACK_PATH, AMD_CALLBACK_PATH } from '../calls/status-callback-url';
import { changeBusinessBody, createBusinessBody, mintKeyBody } from './routes/businesses';
import { createCallBody } from './routes/calls';
import { releaseBody } from './routes/held-calls';
import { addBody as doNotCallAddBody, listedNumber, pageQuery as doNotCallPageQuery } from './routes/do-not-call';
import { businessesQuery, callsQuery, jobsQuery, resultsCsvQuery, runsQuery } from './routes/lists';
import { addLeadsBody, csvQuery, leadRow, MAX_LEADS_PER_RUN, runSettings } from './routes/runs';
import { eventsQuery } from './routes/run-events';
import { deliveriesQuery, rotateBody as webhookRotateBody, setBody as webhookSetBody } from './routes/webhooks';
import { amdParams, callbackParams } from './routes/twilio-status';
import { apiKeyView, businessView, callReleaseView, callView, doNotCallEntryView, heldCallView, errorBody, healthView, jobView, mintedKeyView, pageOf, runSummaryView, runView, webhookDeliveryView, webhookView, webhookWithSecretView } from './schemas/views';
import { uuidParam } from './validation';

/**
 * The OpenAPI 3.1 document of every route, generated from the zod schemas the routes parse with and
 * the view schemas of src/api/schemas/views.ts. A new route is one `registerRoute` call below;
 * test/api/openapi.test.ts fails for a route of the app that has no entry here.
 */

/** Who may call a route: nobody in particular, any key (a business key on its own business only), an admin key, the carrier (signed). */
export type RouteAuth = 'none' | 'key' | 'admin' | 'twilio-signature';

export interface RouteResponse {
  description: string;
  /** The JSON body; absent = no body (or `contentType`'s text). */
  schema?: z.ZodType;
  contentType?: string;
}

export interface RouteSpec {
  method: 'get' | 'post' | 'put' | 'patch' | 'delete';
  /** As Express writes it: `/v1/runs/:runId`. */
  path: string;
  summary: string;
  auth: RouteAuth;
  /** Path parameters; default: each `:name` of the path is a UUID. */
  params?: z.ZodObject;
  query?: z.ZodObject;
  /** Request bodies by content type. */
  body?: Record<string, z.ZodType>;
  responses: Record<number, RouteResponse>;
  /** Error statuses beyond those of its auth and body (401, 403, 429; 400, 413, 415), each answered with the error shape. */
  errors?: number[];
}

/** What each error status means across the API (README's error table has the codes). */
const ERROR_MEANING: Record<number, string> = {
  400: 'the request is not what the route takes: the error names the field or parameter',
  401: 'no key, or a key that is unknown or revoked',
  403: 'an admin-only route with a business key; a callback whose signature does not match',
  404: "unknown, or another business's",
  409: 'the run cannot make that change now',
  413: 'the body is too large',
  415: 'the body is not application/json',
  422: 'refused: see the error code',
  429: 'over a limit; header Retry-After',
  503: 'a dependency is unavailable; nothing was done, retry later',
};

const registry = new OpenAPIRegistry();
registry.registerComponent('securitySchemes', 'bearer', { type: 'http', scheme: 'bearer', description: 'An admin key or a business API key (odk_…)' });
registry.registerComponent('securitySchemes', 'twilioSignature', { type: 'apiKey', in: 'header', name: 'X-Twilio-Signature' });

const json = (schema: z.ZodType) => ({ 'application/json': { schema } });

/** `/v1/runs/:runId` → `/v1/runs/{runId}`: the OpenAPI form of an Express path. */
export function openApiPath(expressPath: string): string {
  return expressPath.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}

/** Adds a route to the document (once per method and path). */
export function registerRoute(spec: RouteSpec): void {
  const names = [...spec.path.matchAll(/:([A-Za-z0-9_]+)/g)].map((m) => m[1]!);
  const params = spec.params ?? (names.length > 0 ? z.object(Object.fromEntries(names.map((n) => [n, uuidParam]))) : undefined);
  const errors = new Set(spec.errors ?? []);
  if (spec.auth === 'key' || spec.auth === 'admin') [401, 429].forEach((s) => errors.add(s));
  if (spec.auth === 'admin') errors.add(403);
  if (spec.body?.['application/json']) [400, 413, 415].forEach((s) => errors.add(s));
  const responses: Record<string, { description: string; content?: Record<string, { schema: z.ZodType }> }> = {};
  for (const [status, r] of Object.entries(spec.responses)) {
    responses[status] = { description: r.description, ...(r.schema ? { content: { [r.contentType ?? 'application/json']: { schema: r.schema } } } : {}) };
  }
  for (const status of [...errors].sort()) responses[status] ??= { description: ERROR_MEANING[status] ?? 'error', content: json(errorBody) };
  registry.registerPath({
    method: spec.method,
    path: openApiPath(spec.path),
    summary: spec.summary,
    ...(spec.auth === 'key' || spec.auth === 'admin' ? { security: [{ bearer: [] }] } : spec.auth === 'twilio-signature' ? { security: [{ twilioSignature: [] }] } : {}),
    ...(spec.auth === 'admin' ? { description: 'Admin key only.' } : {}),
    request: {
      ...(params ? { params } : {}),
      ...(spec.query ? { query: spec.query } : {}),
      ...(spec.body ? { body: { required: true, content: Object.fromEntries(Object.entries(spec.body).map(([type, schema]) => [type, { schema }])) } } : {}),
    },
    responses,
  });
}

const businessBody = z.object({ business: businessView }).strict();
const runBody = z.object({ run: runView }).strict();
const callBody = z.object({ call: callView }).strict();

/* Health and this document: no key. */
registerRoute({
  method: 'get',
  path: '/healthz',
  summary: 'Whether Postgres and Temporal answer',
  auth: 'none',
  responses: { 200: { description: 'both answer', schema: healthView }, 503: { description: 'one does not: named', schema: healthView } },
});
registerRoute({
  method: 'get',
  path: '/metrics',
  summary: "This process's metrics and the Postgres gauges, Prometheus text format (a bearer METRICS_TOKEN when set)",
  auth: 'none',
  responses: {
    200: { description: 'the metrics', contentType: 'text/plain', schema: z.string() },
    401: { description: 'METRICS_TOKEN is set and the scrape did not send it', schema: errorBody },
    503: { description: 'Postgres did not answer', schema: errorBody },
  },
});
registerRoute({
  method: 'get',
  path: '/v1/openapi.json',
  summary: 'This document (no key needed)',
  auth: 'none',
  responses: { 200: { description: 'the OpenAPI 3.1 document', schema: z.record(z.string(), z.unknown()) } },
});

/* The carrier's callbacks. */
const callbackQuery = z.object({ callId: uuidParam.optional() });
registerRoute({
  method: 'post',
  path: STATUS_CALLBACK_PATH,
  summary: "Twilio's status callback (verified against the URL the carrier was given)",
  auth: 'twilio-signature',
  query: callbackQuery,
  body: { 'application/x-www-form-urlencoded': callbackParams },
  responses: { 204: { description: 'applied (or a repeat, changing nothing)' } },
  errors: [400, 403, 404, 503],
});
registerRoute({
  method: 'post',
  path: AMD_CALLBACK_PATH,
  summary: "Twilio's async answering-machine detection result",
  auth: 'twilio-signature',
  query: callbackQuery,
  body: { 'application/x-www-form-urlencoded': amdParams },
  responses: { 204: { description: 'kept' } },
  errors: [400, 403, 503],
});

/* Businesses and their keys. */
registerRoute({
  method: 'post',
  path: '/v1/businesses',
  summary: 'Create a business',
  auth: 'admin',
  body: { 'application/json': createBusinessBody },
  responses: { 201: { description: 'created', schema: businessBody } },
  errors: [422],
});
registerRoute({
  method: 'get',
  path: '/v1/businesses',
  summary: `Every business, newest first (limit 1..${MAX_PAGE_LIMIT})`,
  auth: 'admin',
  query: businessesQuery,
  responses: { 200: { description: 'a page', schema: pageOf(businessView) } },
  errors: [400],
});
registerRoute({
  method: 'get',
  path: '/v1/businesses/:businessId',
  summary: 'A business',
  auth: 'key',
  responses: { 200: { description: 'the business', schema: businessBody } },
  errors: [404],
});
registerRoute({
  method: 'patch',
  path: '/v1/businesses/:businessId',
  summary: 'Change a business',
  auth: 'admin',
  body: { 'application/json': changeBusinessBody },
  responses: { 200: { description: 'changed', schema: businessBody } },
  errors: [404],
});
registerRoute({
  method: 'post',
  path: '/v1/businesses/:businessId/api-keys',
  summary: "Mint a business's API key (the secret is shown once)",
  auth: 'admin',
  body: { 'application/json': mintKeyBody },
  responses: { 201: { description: 'minted', schema: mintedKeyView } },
  errors: [404, 422],
});
registerRoute({
  method: 'get',
  path: '/v1/businesses/:businessId/api-keys',
  summary: "A business's keys (never the secret)",
  auth: 'key',
  responses: { 200: { description: 'the keys', schema: z.object({ apiKeys: z.array(apiKeyView) }).strict() } },
  errors: [404],
});
registerRoute({
  method: 'delete',
  path: '/v1/businesses/:businessId/api-keys/:keyId',
  summary: 'Revoke a key',
  auth: 'key',
  responses: { 200: { description: 'revoked', schema: z.object({ apiKey: apiKeyView }).strict() } },
  errors: [404],
});

/* Runs. */
registerRoute({
  method: 'post',
  path: '/v1/businesses/:businessId/runs',
  summary: 'Start a run: its leads as JSON, or as CSV (text/csv, settings in ?options=)',
  auth: 'key',
  query: csvQuery.partial(),
  body: {
    'application/json': runSettings.extend({ leads: z.array(leadRow).min(1).max(MAX_LEADS_PER_RUN) }).strict(),
    'text/csv': z.string().meta({ description: 'a header row with a phone column; name, time_zone, call_at (each optional) and every other column a variable' }),
  },
  responses: { 201: { description: 'created', schema: z.object({ run: runView, duplicatesMerged: z.number().int() }).strict() } },
  errors: [404, 422],
});
registerRoute({
  method: 'get',
  path: '/v1/businesses/:businessId/runs',
  summary: "A business's runs, newest first; ?status= one or more, comma-separated",
  auth: 'key',
  query: runsQuery,
  responses: { 200: { description: 'a page', schema: pageOf(runSummaryView) } },
  errors: [400, 404],
});
registerRoute({
  method: 'get',
  path: '/v1/runs/:runId',
  summary: 'Where a run stands',
  auth: 'key',
  responses: { 200: { description: 'the run', schema: runBody } },
  errors: [404],
});
registerRoute({
  method: 'get',
  path: '/v1/runs/:runId/events',
  summary:
    "A run's live events as Server-Sent Events: `progress` frames (the run view), `call.dialed|answered|completed` and `run.<status>` events with ids, `end` after the final status; resumable with Last-Event-ID",
  auth: 'key',
  query: eventsQuery,
  responses: { 200: { description: 'the event stream', contentType: 'text/event-stream', schema: z.string() } },
  errors: [400, 404],
});
registerRoute({
  method: 'get',
  path: '/runs/:runId',
  summary: "The run's live page (HTML); its data comes from the API with the key given in the page (#key=…)",
  auth: 'none',
  responses: { 200: { description: 'the page', contentType: 'text/html', schema: z.string() } },
});
registerRoute({
  method: 'post',
  path: '/v1/runs/:runId/leads',
  summary:
    "Add leads to a run that has not begun to end: dialed after those it holds, under the run's settings; JSON, or CSV (text/csv, ?options={\"allowDuplicates\":true}). 409 once the run is canceling or ended, or past its stopAt",
  auth: 'key',
  query: csvQuery.partial(),
  body: {
    'application/json': addLeadsBody.extend({ leads: z.array(leadRow).min(1).max(MAX_LEADS_PER_RUN) }).strict(),
    'text/csv': z.string().meta({ description: 'as for a new run: a header row with a phone column; name, time_zone, call_at and every other column a variable' }),
  },
  responses: { 201: { description: 'added', schema: z.object({ run: runView, added: z.number().int(), duplicatesMerged: z.number().int() }).strict() } },
  errors: [404, 409, 422],
});
registerRoute({
  method: 'post',
  path: '/v1/runs/:runId/close',
  summary: 'Close a run kept open (keepOpen): it completes once its leads are done. A run not kept open, or ended, is answered as it stands',
  auth: 'key',
  responses: { 200: { description: 'closed (or as it stands)', schema: runBody } },
  errors: [404],
});
for (const action of ['pause', 'resume', 'cancel'] as const) {
  registerRoute({
    method: 'post',
    path: `/v1/runs/:runId/${action}`,
    summary: `${action[0]!.toUpperCase()}${action.slice(1)} a run`,
    auth: 'key',
    responses: { 200: { description: 'changed', schema: runBody } },
    errors: [404, 409],
  });
}
registerRoute({
  method: 'get',
  path: '/v1/runs/:runId/jobs',
  summary: "A run's leads in lead order, each as its latest attempt stands, with every call made for it",
  auth: 'key',
  query: jobsQuery,
  responses: { 200: { description: 'a page', schema: pageOf(jobView) } },
  errors: [400, 404],
});
registerRoute({
  method: 'get',
  path: '/v1/runs/:runId/results.csv',
  summary: "A run's results, one row per lead (streamed)",
  auth: 'key',
  query: resultsCsvQuery,
  responses: {
    200: {
      description:
        'lead_id,phone,name,status,outcome,attempts,duration_seconds,answered_by,error_code,error_message,last_call_at, then one column per variable key of the run',
      contentType: 'text/csv',
      schema: z.string(),
    },
  },
  errors: [400, 404],
});

/* Calls. */
registerRoute({
  method: 'post',
  path: '/v1/businesses/:businessId/calls',
  summary: 'A direct call, under the business limit',
  auth: 'key',
  body: { 'application/json': createCallBody },
  responses: {
    201: { description: 'placed', schema: callBody },
    202: { description: 'the carrier may have it: pending until its callback', schema: callBody },
  },
  errors: [404, 422, 429, 503],
});
registerRoute({
  method: 'get',
  path: '/v1/businesses/:businessId/calls',
  summary: "A business's calls, newest first; filters direction, status (comma-separated), since and until (created at)",
  auth: 'key',
  query: callsQuery,
  responses: { 200: { description: 'a page', schema: pageOf(callView) } },
  errors: [400, 404],
});
registerRoute({
  method: 'get',
  path: '/v1/calls/:callId',
  summary: 'A call',
  auth: 'key',
  responses: { 200: { description: 'the call', schema: callBody } },
  errors: [404],
});

/* Calls held for an operator (admin). */
registerRoute({
  method: 'get',
  path: '/v1/held-calls',
  summary: 'Active calls held for an operator: the carrier answered 404 for them, or HELD_CALL_AFTER_CHECKS checks brought no news (the oldest 500)',
  auth: 'admin',
  responses: { 200: { description: 'the held calls, oldest first', schema: z.object({ data: z.array(heldCallView) }).strict() } },
});
registerRoute({
  method: 'post',
  path: '/v1/calls/:callId/release',
  summary: 'Ends a held call (failed or canceled, with the reason), records who released it, and frees its slot',
  auth: 'admin',
  body: { 'application/json': releaseBody },
  responses: { 200: { description: 'released', schema: z.object({ call: callView, release: callReleaseView }).strict() } },
  errors: [404, 409],
});

/* Do-not-call lists: a business's, and the operator-wide one (admin). */
for (const [base, auth, whose] of [
  ['/v1/businesses/:businessId/do-not-call', 'key', "the business's"],
  ['/v1/do-not-call', 'admin', 'the operator-wide'],
] as const) {
  const phoneParams = z.object({ ...(base.includes(':businessId') ? { businessId: uuidParam } : {}), phone: listedNumber });
  registerRoute({
    method: 'post',
    path: base,
    summary: `Add numbers to ${whose} do-not-call list`,
    auth,
    body: { 'application/json': doNotCallAddBody },
    responses: { 200: { description: 'added', schema: z.object({ added: z.number().int(), alreadyListed: z.number().int() }).strict() } },
    errors: [404],
  });
  registerRoute({
    method: 'get',
    path: base,
    summary: `A page of ${whose} do-not-call list, in number order (next = the ?after= of the next page)`,
    auth,
    query: doNotCallPageQuery,
    responses: { 200: { description: 'a page', schema: z.object({ numbers: z.array(doNotCallEntryView), next: z.string().nullable() }).strict() } },
    errors: [400, 404],
  });
  registerRoute({
    method: 'get',
    path: `${base}/:phone`,
    summary: `Whether a number is blocked (${whose} list and the operator-wide one)`,
    auth,
    params: phoneParams,
    responses: { 200: { description: 'the entries that block it', schema: z.object({ phone: z.string(), listed: z.boolean(), entries: z.array(doNotCallEntryView) }).strict() } },
    errors: [400, 404],
  });
  registerRoute({
    method: 'delete',
    path: `${base}/:phone`,
    summary: `Remove a number from ${whose} list`,
    auth,
    params: phoneParams,
    responses: { 200: { description: 'removed', schema: z.object({ removed: z.string() }).strict() } },
    errors: [400, 404],
  });
}

let document: ReturnType<OpenApiGeneratorV31['generateDocument']> | undefined;

/** The document, generated once. */
export function openApiDocument() {
  document ??= new OpenApiGeneratorV31(registry.definitions).generateDocument({
    openapi: '3.1.0',
    info: { title: 'Outdial', version: '1', description: 'Durable outbound bulk calling. Errors are { error: { code, message, details? } }.' },
  });
  return document;
}

/** GET /v1/openapi.json, before the key check: the document says nothing a caller could not learn from the README. */
export function openApiRoutes() {
  return Router().get('/v1/openapi.json', (_req, res) => {
    res.json(openApiDocument());
  });
}

const webhookPath = '/v1/businesses/:businessId/webhook';
registerRoute({
  method: 'put',
  path: webhookPath,
  summary: "Set the business's webhook (URL and events); the answer holds its signing secret (kept when replaced)",
  auth: 'key',
  body: { 'application/json': webhookSetBody },
  responses: {
    200: { description: 'replaced', schema: z.object({ webhook: webhookWithSecretView }).strict() },
    201: { description: 'created', schema: z.object({ webhook: webhookWithSecretView }).strict() },
  },
  errors: [404],
});
registerRoute({
  method: 'get',
  path: webhookPath,
  summary: "The business's webhook (never its secret)",
  auth: 'key',
  responses: { 200: { description: 'the webhook', schema: z.object({ webhook: webhookView }).strict() } },
  errors: [404],
});
registerRoute({
  method: 'delete',
  path: webhookPath,
  summary: "Remove the business's webhook; its pending deliveries end failed",
  auth: 'key',
  responses: { 200: { description: 'removed', schema: z.object({ deleted: z.literal(true) }).strict() } },
  errors: [404],
});
registerRoute({
  method: 'post',
  path: `${webhookPath}/rotate-secret`,
  summary: 'A new signing secret; the previous one also signs for keepPreviousSeconds (default a day)',
  auth: 'key',
  body: { 'application/json': webhookRotateBody },
  responses: { 200: { description: 'rotated', schema: z.object({ webhook: webhookWithSecretView }).strict() } },
  errors: [404],
});
registerRoute({
  method: 'get',
  path: '/v1/businesses/:businessId/webhook-deliveries',
  summary: "The business's webhook deliveries, newest first, with their attempts and results",
  auth: 'key',
  query: deliveriesQuery,
  responses: { 200: { description: 'a page', schema: pageOf(webhookDeliveryView) } },
  errors: [400, 404],
});
