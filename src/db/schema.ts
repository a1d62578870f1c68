import { sql } from 'drizzle-orm';
import { bigint, bigserial, boolean, check, customType, index, integer, jsonb, pgTable, primaryKey, text, timestamp, unique, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import {
  activeCallSql,
  ANSWERED_BY_VALUES,
  ON_MACHINE_POLICIES,
  type AnsweredBy,
  type OnMachinePolicy,
  CALL_DIRECTIONS,
  CALL_STATUSES,
  E164_PATTERN,
  JOB_STATUSES,
  RUN_STATUSES,
  sqlList,
  type CallDirection,
  type CallStatus,
  type JobStatus,
  type RunStatus,
} from './statuses';
import type { CallingWindow, LeadVariables, MachineDetection, RetryPolicy, VoiceApp } from './settings';

const createdAt = () => timestamp('created_at', { withTimezone: true }).notNull().defaultNow();
const updatedAt = () => timestamp('updated_at', { withTimezone: true }).notNull().defaultNow();
const inList = (column: string, values: readonly string[]) => sql.raw(`${column} IN (${sqlList(values)})`);
const isE164 = (column: string) => sql.raw(`${column} ~ '${E164_PATTERN}'`);

export const businesses = pgTable(
  'businesses',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    name: text('name').notNull(),
    /** The default caller ID. */
    callerId: text('caller_id').notNull(),
    /** The business's other caller IDs: a run or direct call may pick the default or any of these. */
    callerIds: text('caller_ids').array().notNull().default(sql`'{}'::text[]`),
    maxConcurrentCalls: integer('max_concurrent_calls').notNull().default(3),
    /** Slots only direct calls may use: the business's runs together hold at most limit − this. */
    reservedDirectSlots: integer('reserved_direct_slots').notNull().default(0),
    /** The voice app of calls that name none; null = Outdial's short greeting. */
    voiceApp: jsonb('voice_app').$type<VoiceApp>(),
    /** The zone of a lead whose number says none (IANA name). */
    timeZone: text('time_zone').notNull().default('America/New_York'),
    /** Its runs' calling window unless a run sets one; null = the default (08:00–21:00 local, every day). */
    callingWindow: jsonb('calling_window').$type<CallingWindow>(),
    createdAt: createdAt(),
    /** When a claim last took a slot of the business (stamped with its reservation, by trigger): the slot refill metric's start line. */
    lastClaimAt: timestamp('last_claim_at', { withTimezone: true }),
    /**
     * Moves with every reservation of the business's slots and every change of its limits, calling
     * window or time zone (triggers: drizzle/0022_slot_version.sql, 0023): a claim that counted the slots without the slot lock commits
     * only if it is unchanged (src/claim/bulk.ts).
     */
    slotVersion: bigint('slot_version', { mode: 'number' }).notNull().default(0),
  },
  () => [
    check('businesses_name_not_blank', sql`length(trim(name)) > 0`),
    check('businesses_caller_id_e164', isE164('caller_id')),
    check('businesses_max_concurrent_calls_range', sql`max_concurrent_calls BETWEEN 1 AND 1000`),
    check('businesses_reserved_direct_slots_range', sql`reserved_direct_slots >= 0 AND reserved_direct_slots < max_concurrent_calls`),
  ],
);

export const leads = pgTable(
  'leads',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    /** A business's (checked once per statement, not per row: see drizzle/0016_statement_references.sql). */
    businessId: uuid('business_id').notNull(),
    phone: text('phone').notNull(),
    name: text('name'),
    /** The lead's own fields, passed to the voice app (see src/calls/instructions.ts). */
    variables: jsonb('variables').$type<LeadVariables>(),
    /**
     * The lead's candidate time zones (IANA): the one it named, or those its number maps to; null =
     * unknown, the business's zone. Inside the window only if inside in every one.
     */
    timeZones: text('time_zones').array(),
    createdAt: createdAt(),
  },
  (t) => [check('leads_phone_e164', isE164('phone')), index('leads_business_idx').on(t.businessId)],
);

export const bulkCallRuns = pgTable(
  'bulk_call_runs',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    businessId: uuid('business_id')
      .notNull()
      .references(() => businesses.id),
    status: text('status').$type<RunStatus>().notNull().default('pending'),
    workflowId: text('workflow_id').notNull(),
    /** Rows of the request that repeated an earlier row's number and were merged into it (one dial per number). */
    duplicatesMerged: integer('duplicates_merged').notNull().default(0),
    /** The run's own voice app; null = the business's default at dial time. */
    voiceApp: jsonb('voice_app').$type<VoiceApp>(),
    /** The run's caller ID (one the business owns); null = the business's default at dial time. */
    callerId: text('caller_id'),
    machineDetection: jsonb('machine_detection').$type<MachineDetection>(),
    /** This run's own cap (≤ the business's limit); null = only the business's limits. */
    maxConcurrentCalls: integer('max_concurrent_calls'),
    /** null = the business's window, or the default. */
    callingWindow: jsonb('calling_window').$type<CallingWindow>(),
    /** Retries by outcome; null = none (every lead is dialed once). */
    retryPolicy: jsonb('retry_policy').$type<RetryPolicy>(),
    /** No call before this. */
    startAt: timestamp('start_at', { withTimezone: true }),
    /** At this, leads not yet dialed end `expired`; live calls finish. */
    stopAt: timestamp('stop_at', { withTimezone: true }),
    /** The run does not complete when its leads are done: it waits for more until closed (or its stopAt). */
    keepOpen: boolean('keep_open').notNull().default(false),
    /** Why the run is not dialing and until when (set by its passes; null while it dials). */
    waitingReason: text('waiting_reason'),
    waitingUntil: timestamp('waiting_until', { withTimezone: true }),
    /** Jobs this run has claimed so far: the fair share's tie-break (src/claim/fair-share.ts). */
    jobsClaimed: integer('jobs_claimed').notNull().default(0),
    /** A wake-up for a freed slot was sent and the run's claim has not run since: its free slots are spoken for (src/calls/wake-runs.ts). */
    wokenAt: timestamp('woken_at', { withTimezone: true }),
    /** A dial session of the run's workflow is waiting for freed slots until this: it hears them from Postgres, so no wake-up is sent to it (src/activities/dial-session.ts). */
    sessionUntil: timestamp('session_until', { withTimezone: true }),
    lastError: text('last_error'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
    startedAt: timestamp('started_at', { withTimezone: true }),
    finishedAt: timestamp('finished_at', { withTimezone: true }),
  },
  (t) => [
    check('bulk_call_runs_status_valid', inList('status', RUN_STATUSES)),
    check('bulk_call_runs_max_concurrent_calls_range', sql`max_concurrent_calls IS NULL OR max_concurrent_calls BETWEEN 1 AND 1000`),
    uniqueIndex('bulk_call_runs_workflow_id_unique').on(t.workflowId),
    index('bulk_call_runs_business_status_idx').on(t.businessId, t.status),
    // A business's runs newest first, by page (GET /v1/businesses/:id/runs).
    index('bulk_call_runs_business_created_idx').on(t.businessId, t.createdAt, t.id),
  ],
);

export const outboundCallJobs = pgTable(
  'outbound_call_jobs',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    /** A run's and a lead's: both checked once per statement, not per row (see drizzle/0016_statement_references.sql). */
    runId: uuid('run_id').notNull(),
    leadId: uuid('lead_id').notNull(),
    /** The lead's place in the run: jobs are dialed in the order the leads were sent. */
    position: integer('position').notNull(),
    attempt: integer('attempt').notNull().default(1),
    status: text('status').$type<JobStatus>().notNull().default('queued'),
    /** A retry is not dialed before this. */
    notBefore: timestamp('not_before', { withTimezone: true }),
    dialStartedAt: timestamp('dial_started_at', { withTimezone: true }),
    dialLockToken: uuid('dial_lock_token'),
    twilioCallSid: text('twilio_call_sid'),
    /** The call's terminal status (completed, busy, no-answer, failed, canceled) once it ended. */
    outcome: text('outcome').$type<CallStatus>(),
    errorCode: integer('error_code'),
    lastError: text('last_error'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
    finishedAt: timestamp('finished_at', { withTimezone: true }),
  },
  (t) => [
    check('outbound_call_jobs_status_valid', inList('status', JOB_STATUSES)),
    check('outbound_call_jobs_attempt_positive', sql`attempt >= 1`),
    check(
      'outbound_call_jobs_claim_consistent',
      sql`status <> 'dialing' OR (dial_lock_token IS NOT NULL AND dial_started_at IS NOT NULL)`,
    ),
    uniqueIndex('outbound_call_jobs_run_lead_attempt_unique').on(t.runId, t.leadId, t.attempt),
    // The hot path of every claim: the next queued jobs of a run, in order.
    index('outbound_call_jobs_queued_idx').on(t.runId, t.position).where(sql`status = 'queued'`),
    index('outbound_call_jobs_run_status_idx').on(t.runId, t.status),
    // A run's leads in order, each one's latest attempt first: the jobs list and results.csv walk it by page.
    index('outbound_call_jobs_run_position_idx').on(t.runId, t.position, t.attempt.desc()),
  ],
);

export const calls = pgTable(
  'calls',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    businessId: uuid('business_id')
      .notNull()
      .references(() => businesses.id),
    direction: text('direction').$type<CallDirection>().notNull(),
    status: text('status').$type<CallStatus>().notNull().default('reserved'),
    toNumber: text('to_number').notNull(),
    fromNumber: text('from_number').notNull(),
    twilioCallSid: text('twilio_call_sid'),
    runId: uuid('run_id').references(() => bulkCallRuns.id),
    jobId: uuid('job_id').references(() => outboundCallJobs.id),
    /** The StatusCallback URL the carrier was given: callback signatures are verified against it. */
    statusCallbackUrl: text('status_callback_url'),
    /** Highest Twilio SequenceNumber applied; callbacks can arrive out of order. */
    lastSequenceNumber: integer('last_sequence_number'),
    errorCode: integer('error_code'),
    lastError: text('last_error'),
    durationSeconds: integer('duration_seconds'),
    /** Twilio's answering-machine verdict, once known. */
    answeredBy: text('answered_by').$type<AnsweredBy>(),
    /** Set when detection was asked for: what to do if a machine answers. */
    onMachine: text('on_machine').$type<OnMachinePolicy>(),
    /** The AsyncAmdStatusCallback URL the carrier was given (verified like the status callback). */
    amdCallbackUrl: text('amd_callback_url'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
    dialedAt: timestamp('dialed_at', { withTimezone: true }),
    /**
     * Set when the dial's create failed without saying whether the carrier made the call (a 5xx, a
     * timeout, a broken connection): the latest moment that create may still reach the carrier, so
     * a reservation the carrier has no call for may be withdrawn after it. Null: the dial bound's
     * rule from `dialed_at` (src/calls/place-call.ts withdrawableAfterSeconds).
     */
    withdrawableAt: timestamp('withdrawable_at', { withTimezone: true }),
    answeredAt: timestamp('answered_at', { withTimezone: true }),
    endedAt: timestamp('ended_at', { withTimezone: true }),
    /**
     * When reconciliation asks the carrier about this call next; null until news stops (then it is
     * due after RECONCILE_QUIET_CALL_SECONDS of quiet). Set by an ambiguous dial and after every check;
     * cleared by news (see src/calls/reconcile.ts).
     */
    nextCheckAt: timestamp('next_check_at', { withTimezone: true }),
    /** Checks with the carrier since the last news that brought none (the backoff's step). */
    checks: integer('checks').notNull().default(0),
    /**
     * Of those, the checks in a row that learned nothing (the carrier unreachable, no call found
     * yet): many make the call held for an operator. A carrier that says the call is live resets it,
     * so a long conversation is never offered for release.
     */
    uncertainChecks: integer('uncertain_checks').notNull().default(0),
    /** When the carrier first answered 404 for this call's SID: it is held for an operator (GET /v1/held-calls). */
    carrierUnknownAt: timestamp('carrier_unknown_at', { withTimezone: true }),
  },
  (t) => [
    check('calls_status_valid', inList('status', CALL_STATUSES)),
    check('calls_direction_valid', inList('direction', CALL_DIRECTIONS)),
    check('calls_to_e164', isE164('to_number')),
    check('calls_bulk_has_job', sql`(direction = 'bulk') = (job_id IS NOT NULL AND run_id IS NOT NULL)`),
    check('calls_answered_by_valid', sql.raw(`answered_by IS NULL OR answered_by IN (${sqlList(ANSWERED_BY_VALUES)})`)),
    check('calls_on_machine_valid', sql.raw(`on_machine IS NULL OR on_machine IN (${sqlList(ON_MACHINE_POLICIES)})`)),
    check('calls_sid_format', sql`twilio_call_sid IS NULL OR twilio_call_sid ~ '^CA[0-9a-fA-F]{32}$'`),
    uniqueIndex('calls_twilio_call_sid_unique').on(t.twilioCallSid),
    uniqueIndex('calls_job_unique').on(t.jobId),
    // The slot count: active calls of one business. Partial, so it stays as small as the live calls.
    index('calls_active_by_business_idx')
      .on(t.businessId)
      .where(sql.raw(activeCallSql())),
    index('calls_run_status_idx').on(t.runId, t.status),
    // The slot refill metric: a business's slots freed since its last claim.
    index('calls_ended_by_business_idx').on(t.businessId, t.endedAt).where(sql`ended_at IS NOT NULL`),
    // A business's calls newest first, by page (GET /v1/businesses/:id/calls).
    index('calls_business_created_idx').on(t.businessId, t.createdAt, t.id),
    // Reconciliation: the calls due for a check with the carrier, soonest first.
    index('calls_next_check_idx').on(t.nextCheckAt).where(sql`next_check_at IS NOT NULL`),
  ],
);

/** Who released a held call (POST /v1/calls/:callId/release), why and when: the audit of a slot freed by hand. */
export const callReleases = pgTable(
  'call_releases',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    callId: uuid('call_id')
      .notNull()
      .references(() => calls.id),
    /** The admin principal's ID (`admin:<key hash prefix>`). */
    releasedBy: text('released_by').notNull(),
    reason: text('reason').notNull(),
    /** The status the call was ended with. */
    status: text('status').$type<'failed' | 'canceled'>().notNull(),
    releasedAt: timestamp('released_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [check('call_releases_status_valid', sql`status IN ('failed', 'canceled')`), index('call_releases_call_idx').on(t.callId)],
);

/**
 * A business's API keys. Only a SHA-256 of the whole key is kept (the key carries 190 random bits,
 * so a slow hash adds nothing); `prefix` is the key's public head, for lookup and for display.
 */
export const apiKeys = pgTable(
  'api_keys',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    businessId: uuid('business_id')
      .notNull()
      .references(() => businesses.id),
    name: text('name'),
    prefix: text('prefix').notNull(),
    secretHash: text('secret_hash').notNull(),
    createdAt: createdAt(),
    lastUsedAt: timestamp('last_used_at', { withTimezone: true }),
    revokedAt: timestamp('revoked_at', { withTimezone: true }),
  },
  (t) => [uniqueIndex('api_keys_prefix_unique').on(t.prefix), index('api_keys_business_idx').on(t.businessId)],
);

/**
 * One row per (caller's key, Idempotency-Key), written in the same transaction as what the request
 * created, so another request sees it only with the result to replay. The result is encrypted with a
 * key derived from the caller's own credential: a replay needs that credential, and a minted API
 * key's secret is never readable from this table.
 */
export const idempotencyKeys = pgTable(
  'idempotency_keys',
  {
    principal: text('principal').notNull(),
    key: text('key').notNull(),
    requestHash: text('request_hash').notNull(),
    result: jsonb('result').$type<{ iv: string; tag: string; data: string }>(),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.principal, t.key] }), index('idempotency_keys_created_idx').on(t.createdAt)],
);

/**
 * Do-not-call numbers: a business's own list (`business_id` set) and the operator-wide list
 * (`business_id` null). Checked inside the claim, so a number listed before a claim is never dialed.
 */
export const doNotCallNumbers = pgTable(
  'do_not_call_numbers',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    businessId: uuid('business_id').references(() => businesses.id),
    phone: text('phone').notNull(),
    reason: text('reason'),
    createdAt: createdAt(),
  },
  (t) => [
    check('do_not_call_numbers_phone_e164', isE164('phone')),
    unique('do_not_call_numbers_scope_phone_unique').on(t.businessId, t.phone).nullsNotDistinct(),
    // The claim's check: is this number on the business's list or the global one.
    index('do_not_call_numbers_phone_idx').on(t.phone),
  ],
);

/**
 * The creates recently sent to each carrier account, as a sliding-window log: the claim (and a
 * direct call's reservation) takes a place here in its own transaction, so every worker and API
 * process together keep to the account's calls per second. Rows older than a few seconds are dropped.
 */
export const carrierSends = pgTable(
  'carrier_sends',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    account: text('account').notNull(),
    /** The call the place is for; `sent_at` is stamped when the carrier answers its create (see src/db/queries/carrier-sends.ts). */
    callId: uuid('call_id'),
    claimedAt: timestamp('claimed_at', { withTimezone: true }).notNull().defaultNow(),
    /** null until the carrier answers the create: the place counts as in use meanwhile (up to the dial bound plus the request timeout). */
    sentAt: timestamp('sent_at', { withTimezone: true }),
  },
  (t) => [index('carrier_sends_account_sent_idx').on(t.account, t.sentAt), index('carrier_sends_call_idx').on(t.callId)],
);

/** A transaction id (xid8): events are read in commit-safe order by (tx, id), see src/db/queries/events.ts. */
const xid8 = customType<{ data: string; driverData: string }>({ dataType: () => 'xid8' });

/**
 * What happened, in order: a call dialed, answered or completed, a run changing status. Written by
 * triggers (drizzle/0009_events.sql) in the transaction that made the change, so no code path can change a
 * call or a run without its event; a commit with events of a watched run (`event_watches`) notifies channel `outdial_events`. Read by the live
 * stream and the webhook outbox; never updated.
 */
export const events = pgTable(
  'events',
  {
    id: bigserial('id', { mode: 'bigint' }).primaryKey(),
    /** The writing transaction: ids are taken in insert order but become visible in commit order. */
    tx: xid8('tx').notNull().default(sql`pg_current_xact_id()`),
    businessId: uuid('business_id').notNull(),
    runId: uuid('run_id'),
    callId: uuid('call_id'),
    type: text('type').notNull(),
    data: jsonb('data').$type<Record<string, unknown>>().notNull(),
    createdAt: createdAt(),
  },
  (t) => [
    index('events_run_idx').on(t.runId, t.tx, t.id).where(sql`run_id IS NOT NULL`),
    index('events_business_idx').on(t.businessId, t.tx, t.id),
  ],
);

/**
 * The runs some API process streams live, until when (renewed while followed). An event notifies
 * `outdial_events` only for a run watched here: a NOTIFY serializes every notifying commit in the
 * cluster behind one lock held through its WAL flush, so unwatched runs' events commit without one.
 * Unlogged: after a crash the hubs write their watches again within one renewal.
 */
export const eventWatches = pgTable('event_watches', {
  runId: uuid('run_id').primaryKey(),
  until: timestamp('until', { withTimezone: true }).notNull(),
});

export const WEBHOOK_DELIVERY_STATUSES = ['pending', 'delivered', 'failed'] as const;
export type WebhookDeliveryStatus = (typeof WEBHOOK_DELIVERY_STATUSES)[number];

/**
 * A business's webhook (at most one): where its events are POSTed, which types, and the secret they
 * are signed with (Standard Webhooks: `whsec_` + base64). The secret is kept as such: signing needs it.
 */
export const webhookEndpoints = pgTable(
  'webhook_endpoints',
  {
    businessId: uuid('business_id')
      .primaryKey()
      .references(() => businesses.id),
    url: text('url').notNull(),
    events: text('events').array().notNull(),
    secret: text('secret').notNull(),
    /** The secret before the last rotation: it signs too (a second signature) until `previousSecretExpiresAt`. */
    previousSecret: text('previous_secret'),
    previousSecretExpiresAt: timestamp('previous_secret_expires_at', { withTimezone: true }),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  () => [check('webhook_endpoints_url_http', sql`url ~ '^https?://'`), check('webhook_endpoints_events_not_empty', sql`cardinality(events) > 0`)],
);

/**
 * The outbox: one row per event a business's webhook subscribes to, inserted by a trigger on `events`
 * (drizzle/0010_webhooks.sql) in the transaction of the change itself, so no crash can lose one.
 * Dispatchers claim due rows with a lease (`locked_until`); `attempts` counts the attempts begun.
 */
export const webhookDeliveries = pgTable(
  'webhook_deliveries',
  {
    id: bigserial('id', { mode: 'bigint' }).primaryKey(),
    eventId: bigint('event_id', { mode: 'bigint' })
      .notNull()
      .references(() => events.id),
    businessId: uuid('business_id').notNull(),
    type: text('type').notNull(),
    status: text('status').$type<WebhookDeliveryStatus>().notNull().default('pending'),
    attempts: integer('attempts').notNull().default(0),
    nextAttemptAt: timestamp('next_attempt_at', { withTimezone: true }).notNull().defaultNow(),
    /** Held by a dispatcher's attempt until then; an expired lease (a crashed worker) makes the row due again. */
    lockedUntil: timestamp('locked_until', { withTimezone: true }),
    lastStatusCode: integer('last_status_code'),
    lastError: text('last_error'),
    deliveredAt: timestamp('delivered_at', { withTimezone: true }),
    createdAt: createdAt(),
  },
  (t) => [
    check('webhook_deliveries_status_valid', inList('status', WEBHOOK_DELIVERY_STATUSES)),
    uniqueIndex('webhook_deliveries_event_unique').on(t.eventId),
    // What dispatchers claim: only the pending rows, by due time.
    index('webhook_deliveries_due_idx').on(t.nextAttemptAt).where(sql`status = 'pending'`),
    // Leases in force or expired: the dispatcher's timer looks for the first to end.
    index('webhook_deliveries_lease_idx').on(t.lockedUntil).where(sql`status = 'pending' AND locked_until IS NOT NULL`),
    index('webhook_deliveries_business_idx').on(t.businessId, t.createdAt, t.id),
  ],
);
