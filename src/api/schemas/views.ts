import { z } from 'zod';
import { ANSWERED_BY_CLASSES, ANSWERED_BY_VALUES, CALL_DIRECTIONS, CALL_STATUSES, JOB_STATUSES, ON_MACHINE_POLICIES, RUN_STATUSES, TERMINAL_CALL_STATUSES } from '../../db/statuses';
import type { ApiKeyView } from '../../domain/api-keys';
import type { BusinessView } from '../../domain/businesses';
import type { CallView } from '../../domain/calls/call-view';
import type { HeldCallView, ReleaseView } from '../../domain/calls/held-calls';
import type { DoNotCallEntry } from '../../domain/do-not-call';
import type { Page } from '../../domain/pagination';
import type { AttemptView, JobView } from '../../domain/runs/list-jobs';
import type { RunSummary } from '../../domain/runs/list-runs';
import type { RunView } from '../../domain/runs/run-view';
import type { WebhookDeliveryView } from '../../domain/webhooks/deliveries';
import type { WebhookView } from '../../domain/webhooks/endpoint';
import { WEBHOOK_DELIVERY_STATUSES } from '../../db/schema';
import { callingWindowField, machineDetectionField, retriesField, voiceAppField } from '../campaign-fields';

/**
 * The response bodies of the API as zod schemas, for the OpenAPI document (src/api/openapi.ts). Each
 * `satisfies` the view type the domain returns, so a field added to a view and not here fails the
 * build; strict, so a field here and not in the view fails the spec test. The campaign settings are
 * shown as the request fields take them.
 */

const instant = z.iso.datetime();
const uuid = z.uuid();
const counts = <const T extends readonly string[]>(keys: T) => z.object(Object.fromEntries(keys.map((k) => [k, z.number().int()])) as Record<T[number], z.ZodNumber>).strict();

/** The error shape of src/api/errors.ts. */
export const errorBody = z
  .object({ error: z.object({ code: z.string(), message: z.string(), details: z.unknown().optional() }).strict() })
  .strict()
  .meta({ id: 'Error' });

export const businessView = z
  .object({
    id: uuid,
    name: z.string(),
    callerId: z.string(),
    callerIds: z.array(z.string()),
    maxConcurrentCalls: z.number().int(),
    reservedDirectSlots: z.number().int(),
    voiceApp: voiceAppField.nullable(),
    timeZone: z.string(),
    callingWindow: callingWindowField.nullable(),
    activeCalls: z.number().int(),
    createdAt: instant,
  })
  .strict()
  .meta({ id: 'Business' }) satisfies z.ZodType<BusinessView, unknown>;

const jobCountsView = counts([...JOB_STATUSES, 'total']);
const outcomesView = counts(TERMINAL_CALL_STATUSES);

const runSummaryFields = {
  id: uuid,
  businessId: uuid,
  status: z.enum(RUN_STATUSES),
  lastError: z.string().nullable(),
  jobs: jobCountsView,
  attempts: z.number().int(),
  outcomes: outcomesView,
  startAt: instant.nullable(),
  stopAt: instant.nullable(),
  createdAt: instant,
  startedAt: instant.nullable(),
  finishedAt: instant.nullable(),
};

export const runSummaryView = z.object(runSummaryFields).strict().meta({ id: 'RunSummary' }) satisfies z.ZodType<RunSummary, unknown>;

export const runView = z
  .object({
    ...runSummaryFields,
    workflowId: z.string(),
    duplicatesMerged: z.number().int(),
    answeredBy: counts(ANSWERED_BY_CLASSES),
    voiceApp: voiceAppField.nullable(),
    callerId: z.string().nullable(),
    machineDetection: machineDetectionField.nullable(),
    maxConcurrentCalls: z.number().int().nullable(),
    callingWindow: callingWindowField.nullable(),
    retries: retriesField.nullable(),
    keepOpen: z.boolean(),
    waiting: z.object({ reason: z.string(), until: instant.nullable() }).strict().nullable(),
    business: z.object({ activeCalls: z.number().int(), maxConcurrentCalls: z.number().int().nullable() }).strict(),
  })
  .strict()
  .meta({ id: 'Run' }) satisfies z.ZodType<RunView, unknown>;

const answeredBy = z.enum(ANSWERED_BY_VALUES).nullable();

export const callView = z
  .object({
    id: uuid,
    businessId: uuid,
    direction: z.enum(CALL_DIRECTIONS),
    status: z.enum(CALL_STATUSES),
    to: z.string(),
    from: z.string(),
    twilioCallSid: z.string().nullable(),
    runId: uuid.nullable(),
    jobId: uuid.nullable(),
    errorCode: z.number().int().nullable(),
    lastError: z.string().nullable(),
    durationSeconds: z.number().int().nullable(),
    answeredBy,
    onMachine: z.enum(ON_MACHINE_POLICIES).nullable(),
    createdAt: instant,
    dialedAt: instant.nullable(),
    answeredAt: instant.nullable(),
    endedAt: instant.nullable(),
  })
  .strict()
  .meta({ id: 'Call' }) satisfies z.ZodType<CallView, unknown>;

export const heldCallView = z
  .object({
    call: callView,
    heldBecause: z.enum(['carrier-unknown', 'no-news']),
    checks: z.number().int(),
    carrierUnknownAt: instant.nullable(),
    nextCheckAt: instant.nullable(),
  })
  .strict()
  .meta({ id: 'HeldCall' }) satisfies z.ZodType<HeldCallView, unknown>;

export const callReleaseView = z
  .object({
    id: uuid,
    callId: uuid,
    releasedBy: z.string(),
    reason: z.string(),
    status: z.enum(['failed', 'canceled']),
    releasedAt: instant,
  })
  .strict()
  .meta({ id: 'CallRelease' }) satisfies z.ZodType<ReleaseView, unknown>;

const attemptView = z
  .object({
    callId: uuid,
    attempt: z.number().int(),
    status: z.enum(CALL_STATUSES),
    answeredBy,
    durationSeconds: z.number().int().nullable(),
    errorCode: z.number().int().nullable(),
    errorMessage: z.string().nullable(),
    createdAt: instant,
    endedAt: instant.nullable(),
  })
  .strict() satisfies z.ZodType<AttemptView, unknown>;

export const jobView = z
  .object({
    jobId: uuid,
    leadId: uuid,
    phone: z.string(),
    name: z.string().nullable(),
    variables: z.record(z.string(), z.string()),
    status: z.enum(JOB_STATUSES),
    outcome: z.enum(CALL_STATUSES).nullable(),
    dueAt: instant.nullable(),
    attempts: z.array(attemptView),
  })
  .strict()
  .meta({ id: 'Job' }) satisfies z.ZodType<JobView, unknown>;

export const apiKeyView = z
  .object({
    id: uuid,
    businessId: uuid,
    name: z.string().nullable(),
    prefix: z.string(),
    createdAt: instant,
    lastUsedAt: instant.nullable(),
    revokedAt: instant.nullable(),
  })
  .strict()
  .meta({ id: 'ApiKey' }) satisfies z.ZodType<ApiKeyView, unknown>;

export const mintedKeyView = z.object({ apiKey: apiKeyView.extend({ secret: z.string() }).strict() }).strict();

export const doNotCallEntryView = z
  .object({ phone: z.string(), list: z.enum(['business', 'global']), reason: z.string().nullable(), createdAt: instant })
  .strict()
  .meta({ id: 'DoNotCallEntry' }) satisfies z.ZodType<DoNotCallEntry, unknown>;

/** A list route's page: `{ data, nextCursor }`. */
export const webhookView = z
  .object({ url: z.string(), events: z.array(z.string()), previousSecretExpiresAt: instant.nullable(), createdAt: instant, updatedAt: instant })
  .strict()
  .meta({ id: 'Webhook' }) satisfies z.ZodType<WebhookView, unknown>;

/** The webhook as set or rotated: with its signing secret, shown only then. */
export const webhookWithSecretView = webhookView.extend({ secret: z.string().startsWith('whsec_') }).strict().meta({ id: 'WebhookWithSecret' });

export const webhookDeliveryView = z
  .object({
    eventId: z.string(),
    type: z.string(),
    status: z.enum(WEBHOOK_DELIVERY_STATUSES),
    attempts: z.number().int(),
    lastStatusCode: z.number().int().nullable(),
    lastError: z.string().nullable(),
    nextAttemptAt: instant.nullable(),
    deliveredAt: instant.nullable(),
    createdAt: instant,
  })
  .strict()
  .meta({ id: 'WebhookDelivery' }) satisfies z.ZodType<WebhookDeliveryView, unknown>;

export function pageOf<T extends z.ZodType>(item: T) {
  return z.object({ data: z.array(item), nextCursor: z.string().nullable() }).strict() satisfies z.ZodType<Page<z.output<T>>, unknown>;
}

const probe = z.union([z.object({ ok: z.literal(true) }).strict(), z.object({ ok: z.literal(false), error: z.string() }).strict()]);
export const healthView = z.object({ status: z.enum(['ok', 'unavailable']), postgres: probe, temporal: probe }).strict();
