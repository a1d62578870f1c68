import type { PoolClient } from 'pg';
import type { RetryPolicy } from '../settings';
import { ACTIVE_CALL_STATUSES, activeCallSql, type AnsweredBy, type CallDirection, type CallStatus, type JobStatus, type OnMachinePolicy } from '../statuses';
import type { Executor } from './executor';
import { MAX_DIAL_DELAY_SECONDS } from './jobs';
import { CREATED_US, FROM_US, type TimeKey } from './keyset';
import { reserveCallsSql } from './reservations';

/**
 * Queries of the `calls` table. A call row is a slot: `reserved` before the carrier is asked, active
 * until the carrier reports a terminal status (see src/slots.ts).
 */

export interface CallRow {
  id: string;
  business_id: string;
  direction: CallDirection;
  status: CallStatus;
  to_number: string;
  from_number: string;
  twilio_call_sid: string | null;
  run_id: string | null;
  job_id: string | null;
  status_callback_url: string | null;
  error_code: number | null;
  last_error: string | null;
  duration_seconds: number | null;
  answered_by: AnsweredBy | null;
  on_machine: OnMachinePolicy | null;
  amd_callback_url: string | null;
  created_at: Date;
  dialed_at: Date | null;
  answered_at: Date | null;
  ended_at: Date | null;
  next_check_at: Date | null;
  checks: number;
  uncertain_checks: number;
  carrier_unknown_at: Date | null;
}

/** News of a call (a status, its SID): reconciliation's schedule starts over (see src/calls/check-schedule.ts). */
const NEWS = 'next_check_at = NULL, checks = 0, uncertain_checks = 0';

export async function countActiveCalls(db: Executor, businessId: string): Promise<number> {
  const r = await db.query<{ n: string }>(`SELECT count(*) AS n FROM calls WHERE business_id = $1 AND ${activeCallSql()}`, [businessId]);
  return Number(r.rows[0]?.n ?? 0);
}

/** Active calls of each of these businesses (absent = none). */
export async function countActiveCallsOf(db: Executor, businessIds: readonly string[]): Promise<Map<string, number>> {
  const r = await db.query<{ business_id: string; n: string }>(
    `SELECT business_id, count(*) AS n FROM calls WHERE business_id = ANY($1) AND ${activeCallSql()} GROUP BY business_id`,
    [businessIds],
  );
  return new Map(r.rows.map((row) => [row.business_id, Number(row.n)]));
}

export interface NewReservedCall {
  id: string;
  to: string;
  statusCallbackUrl: string;
  /** Set when answering-machine detection is asked for. */
  onMachine?: OnMachinePolicy | null;
  amdCallbackUrl?: string | null;
}

/**
 * A direct call's reservation, under the business's slot lock (taken by the statement before: this
 * statement's snapshot then sees every reservation committed before the lock): counts the
 * business's active calls and inserts the `reserved` row only while they are under `limit`, and
 * stamps the claim as the business's last (reserveCallsSql). One round trip under the lock. Returns
 * the counts as they were before it, and the row as inserted with its refill wait (none or one),
 * or `reserved: null` at the limit (nothing written).
 */
export async function insertReservedCallUnderLimit(
  client: PoolClient,
  slot: { businessId: string; from: string; limit: number },
  call: NewReservedCall,
  refills: { since: Date | null; horizonSeconds: number },
): Promise<{ active: { total: number; bulk: number }; reserved: { row: CallRow; refills: number[] } | null }> {
  const r = await client.query<{ active_total: string; active_bulk: string; is_reserved: boolean; waits: number[] } & CallRow>(
    `WITH active AS (SELECT count(*) AS total, count(*) FILTER (WHERE direction = 'bulk') AS bulk FROM calls WHERE business_id = $1 AND ${activeCallSql()}),
     to_reserve AS (
       SELECT $4::uuid AS id, $5::text AS phone, $6::text AS url, $7::text AS on_machine, $8::text AS amd_url, NULL::uuid AS job_id
        WHERE (SELECT total FROM active) < $11
     ),
     ${reserveCallsSql({ business: 1, from: 2, run: 3, since: 9, horizon: 10, returning: true })}
     SELECT active.total AS active_total, active.bulk AS active_bulk, reserved.id IS NOT NULL AS is_reserved, refills.waits, reserved.*
       FROM active CROSS JOIN refills LEFT JOIN reserved ON true`,
    [slot.businessId, slot.from, null, call.id, call.to, call.statusCallbackUrl, call.onMachine ?? null, call.amdCallbackUrl ?? null, refills.since, refills.horizonSeconds, slot.limit],
  );
  const { active_total, active_bulk, is_reserved, waits, ...row } = r.rows[0]!;
  return { active: { total: Number(active_total), bulk: Number(active_bulk) }, reserved: is_reserved ? { row: row as CallRow, refills: waits } : null };
}

export async function findCall(db: Executor, id: string): Promise<CallRow | null> {
  return (await db.query<CallRow>('SELECT * FROM calls WHERE id = $1', [id])).rows[0] ?? null;
}

/** The callback URLs the carrier was given for this call (callbacks are verified against them). */
export async function callbackUrlsOf(db: Executor, id: string): Promise<{ status_callback_url: string | null; amd_callback_url: string | null } | null> {
  const r = await db.query<{ status_callback_url: string | null; amd_callback_url: string | null }>(
    'SELECT status_callback_url, amd_callback_url FROM calls WHERE id = $1',
    [id],
  );
  return r.rows[0] ?? null;
}

/** What `beginDials` found for one reservation. */
export type BeganDial = { result: 'ok'; dialedAt: Date } | { result: 'stopped' } | { result: 'do-not-call' };

/**
 * The last word before the carrier is asked, for the reservations of one claim in one statement:
 * each call is still a fresh reservation (at most MAX_DIAL_DELAY_SECONDS old), its run (if any)
 * still running, and its number on no do-not-call list; records `dialed_at`, so a reservation
 * without it never reached the carrier. A call not found is `stopped`.
 */
export async function beginDials(db: Executor, ids: readonly string[]): Promise<Map<string, BeganDial>> {
  const r = await db.query<{ id: string; listed: boolean; dialed_at: Date | null }>(
    `WITH c AS (SELECT * FROM calls WHERE id = ANY($1::uuid[])),
     listed AS (
       SELECT c.id, EXISTS (SELECT 1 FROM do_not_call_numbers d WHERE d.phone = c.to_number AND (d.business_id = c.business_id OR d.business_id IS NULL)) AS listed FROM c
     ),
     began AS (
       UPDATE calls SET dialed_at = now(), updated_at = now()
         FROM listed
        WHERE calls.id = listed.id AND NOT listed.listed AND calls.status = 'reserved' AND calls.dialed_at IS NULL
          -- A claim checked the lead's window for this long only: an older reservation is not dialed.
          AND calls.created_at > now() - make_interval(secs => $2)
          AND (calls.run_id IS NULL OR EXISTS (SELECT 1 FROM bulk_call_runs r WHERE r.id = calls.run_id AND r.status = 'running'))
       RETURNING calls.id, calls.dialed_at
     ),
     -- The pacing place (if paced) of a call that will not be sent is given back (data-modifying
     -- CTEs run whether or not the SELECT reads them); a sent one is stamped when the carrier answers.
     unsent AS (DELETE FROM carrier_sends WHERE call_id = ANY($1::uuid[]) AND call_id NOT IN (SELECT id FROM began) RETURNING id)
     SELECT listed.id, listed.listed, began.dialed_at FROM listed LEFT JOIN began ON began.id = listed.id`,
    [ids, MAX_DIAL_DELAY_SECONDS],
  );
  const found = new Map(r.rows.map((row) => [row.id, row]));
  return new Map(
    ids.map((id): [string, BeganDial] => {
      const row = found.get(id);
      if (row?.dialed_at) return [id, { result: 'ok', dialedAt: row.dialed_at }];
      return [id, row?.listed ? { result: 'do-not-call' } : { result: 'stopped' }];
    }),
  );
}

/**
 * A reservation whose number was listed between its claim and its dial: the row goes, and its job
 * (if a run's) ends `skipped_dnc`, never dialed.
 */
export async function withdrawForDoNotCall(db: Executor, id: string): Promise<void> {
  await db.query(
    `WITH c AS (DELETE FROM calls WHERE id = $1 AND status = 'reserved' AND twilio_call_sid IS NULL RETURNING job_id)
     UPDATE outbound_call_jobs j
        SET status = 'skipped_dnc', last_error = 'the number is on a do-not-call list', dial_lock_token = NULL, finished_at = now(), updated_at = now()
       FROM c WHERE j.id = c.job_id AND j.status = 'dialing'`,
    [id],
  );
}

/** Twilio's answering-machine verdict, kept once (a repeat changes nothing); returns the call when it was new. */
export async function recordAnsweredBy(db: Executor, by: { callId?: string; callSid?: string }, answeredBy: AnsweredBy): Promise<CallRow | null> {
  const r = await db.query<CallRow>(
    `UPDATE calls SET answered_by = $3, ${NEWS}, updated_at = now()
      WHERE (id = $1 OR ($1::uuid IS NULL AND twilio_call_sid = $2)) AND answered_by IS NULL RETURNING *`,
    [by.callId ?? null, by.callSid ?? null, answeredBy],
  );
  return r.rows[0] ?? null;
}

/** The carrier accepted these calls: keep each SID on its call and its job; a callback may already have moved a status past `queued`. */
export async function recordPlaced(db: Executor, placed: readonly { id: string; sid: string }[]): Promise<void> {
  await db.query(
    `WITH c AS (
       UPDATE calls
          SET twilio_call_sid = COALESCE(calls.twilio_call_sid, p.sid),
              status = CASE WHEN calls.status = 'reserved' THEN 'queued' ELSE calls.status END,
              ${NEWS},
              updated_at = now()
         FROM unnest($1::uuid[], $2::text[]) AS p(id, sid)
        WHERE calls.id = p.id
       RETURNING calls.job_id, p.sid
     )
     UPDATE outbound_call_jobs j SET twilio_call_sid = COALESCE(j.twilio_call_sid, c.sid), updated_at = now()
       FROM c WHERE j.id = c.job_id`,
    [placed.map((p) => p.id), placed.map((p) => p.sid)],
  );
}

/**
 * When a dialed reservation the carrier has no call for may be withdrawn: its `withdrawable_at`, else
 * `$n` seconds (the dial bound plus the request timeout) after its dial began.
 */
const withdrawableAtSql = (afterDialParam: string) => `COALESCE(withdrawable_at, dialed_at + make_interval(secs => ${afterDialParam}))`;

/**
 * A request the carrier never processed: delete the reservation and put its job back in the queue.
 * (A canceling run claims nothing more; its next pass ends what is queued.)
 */
export async function withdrawReservation(db: Executor, id: string, guard: { afterDialSeconds: number | null } = { afterDialSeconds: null }): Promise<boolean> {
  const r = await db.query<{ n: string }>(
    `WITH c AS (
       DELETE FROM calls WHERE id = $1 AND status = 'reserved' AND twilio_call_sid IS NULL
          -- Reconciliation's side of the dial bound (src/calls/place-call.ts): a dial whose create may
          -- still reach the carrier keeps its reservation.
          AND ($2::float8 IS NULL OR dialed_at IS NULL OR ${withdrawableAtSql('$2')} < now())
       RETURNING job_id
     ),
     requeued AS (
       UPDATE outbound_call_jobs j
          SET status = 'queued', dial_lock_token = NULL, dial_started_at = NULL, updated_at = now()
         FROM c WHERE j.id = c.job_id AND j.status = 'dialing'
       RETURNING j.id
     )
     SELECT count(*) AS n FROM c`,
    [id, guard.afterDialSeconds],
  );
  return Number(r.rows[0]?.n ?? 0) > 0;
}

/**
 * The carrier may or may not have created the call: it is asked about in `firstCheckSeconds`
 * (src/calls/check-schedule.ts). The create failed just now, so it can reach the carrier at most
 * `requestTimeoutSeconds` from now (it was sent before now, and a create is never in flight past
 * the timeout); the dial bound's rule from `dialed_at` stays when that is sooner.
 */
export async function recordUnknownOutcome(db: Executor, id: string, message: string, times: { firstCheckSeconds: number; requestTimeoutSeconds: number; afterDialSeconds: number }): Promise<void> {
  await db.query(
    `UPDATE calls SET last_error = $2, next_check_at = now() + make_interval(secs => $3), checks = 0, updated_at = now(),
            withdrawable_at = LEAST(dialed_at + make_interval(secs => $5), now() + make_interval(secs => $4))
      WHERE id = $1`,
    [id, `dial outcome unknown: ${message}`, times.firstCheckSeconds, times.requestTimeoutSeconds, times.afterDialSeconds],
  );
}

export interface CallStatusChange {
  status: CallStatus;
  /** The statuses `status` moves a call forward from (`statusesBehind`): only from one of them does it apply. */
  behind: readonly CallStatus[];
  callSid: string | null;
  sequenceNumber: number | null;
  durationSeconds: number | null;
  errorCode: number | null;
  errorMessage: string | null;
  /** A terminal status: the call's job (if any, and still dialing) ends with this status. Null: not terminal. */
  finishJobAs: JobStatus | null;
  /**
   * Outside a transaction: a status that would end a job of a run with a retry policy is left
   * undone (result `retryable`), for a transaction that queues the retry with it.
   */
  unlessRetryable: boolean;
  /** The URL a callback's signature was checked against: applied only if it is the one the call was given (result `other-url` otherwise). */
  signedFor: string | null;
  /**
   * Commit without waiting for the WAL flush (DATABASE_ASYNC_STATUS_COMMITS). Its commit holds no
   * lock through a flush then: a status that frees a slot NOTIFYs, and notifying commits run one at
   * a time cluster-wide. A crash may lose the last such changes; reconciliation learns them again.
   */
  flushLater: boolean;
}

/**
 * What `changeCallStatus` decided, with the call as it was before, its run's retry policy and its
 * job's attempt (a terminal status may queue the next one).
 */
export type ChangedCall = CallRow & {
  result: 'other-url' | 'sid-mismatch' | 'unchanged' | 'applied' | 'retryable';
  run_retry_policy: RetryPolicy | null;
  job_attempt: number | null;
  /** The transaction's synchronous_commit as the statement left it. */
  commit_mode: string;
};

/**
 * A carrier status in one statement, one round trip: locks the call (found by Outdial's ID,
 * preferred because it exists before the SID, or the carrier's SID), decides (a known SID that
 * differs is a mismatch; the status applies only from one of `behind`; otherwise an unknown SID is
 * still learned), and writes what it decided, a terminal status's job included. Null: no such call.
 * (`other-url` and `retryable` write nothing, not even a SID.)
 */
export async function changeCallStatus(db: Executor, by: { callId?: string; callSid?: string }, change: CallStatusChange): Promise<ChangedCall | null> {
  const column = by.callId ? 'id' : 'twilio_call_sid';
  const r = await db.query<ChangedCall>(
    `WITH c AS (
       SELECT c.*, (SELECT r.retry_policy FROM bulk_call_runs r WHERE r.id = c.run_id) AS run_retry_policy,
              (SELECT j.attempt FROM outbound_call_jobs j WHERE j.id = c.job_id) AS job_attempt
         FROM calls c WHERE c.${column} = $1 FOR UPDATE OF c
     ),
     decided AS (
       SELECT c.*, CASE
           -- A call without a stored URL had its callbacks signed for the API's public URL.
           WHEN $11::text IS NOT NULL AND c.status_callback_url IS NOT NULL AND c.status_callback_url <> $11 THEN 'other-url'
           WHEN $2::text IS NOT NULL AND c.twilio_call_sid IS NOT NULL AND c.twilio_call_sid <> $2 THEN 'sid-mismatch'
           WHEN NOT c.status = ANY($4::text[]) THEN 'unchanged'
           WHEN $10::boolean AND c.job_id IS NOT NULL AND c.run_retry_policy IS NOT NULL THEN 'retryable'
           ELSE 'applied'
         END AS result
         FROM c
     ),
     applied AS (
       UPDATE calls SET
           status = $3,
           twilio_call_sid = COALESCE(twilio_call_sid, $2),
           last_sequence_number = GREATEST(last_sequence_number, $5),
           duration_seconds = COALESCE($6, duration_seconds),
           error_code = COALESCE($7, error_code),
           last_error = COALESCE($8, last_error),
           answered_at = CASE WHEN $3 = 'in-progress' THEN COALESCE(answered_at, now()) ELSE answered_at END,
           ended_at = CASE WHEN $9::text IS NOT NULL THEN now() ELSE ended_at END,
           ${NEWS},
           updated_at = now()
        WHERE id = (SELECT id FROM decided WHERE result = 'applied')
     ),
     finished AS (
       UPDATE outbound_call_jobs SET status = $9, outcome = $3, twilio_call_sid = COALESCE(twilio_call_sid, $2, (SELECT twilio_call_sid FROM decided)),
              error_code = COALESCE($7, error_code), last_error = COALESCE($8, last_error), finished_at = now(), updated_at = now()
        WHERE id = (SELECT job_id FROM decided WHERE result = 'applied') AND $9::text IS NOT NULL AND status = 'dialing'
     ),
     -- A late or repeated status still teaches the SID if a callback beat the create response (status untouched: no event).
     learned AS (
       UPDATE calls SET twilio_call_sid = $2, ${NEWS}, updated_at = now()
        WHERE id = (SELECT id FROM decided WHERE result = 'unchanged' AND twilio_call_sid IS NULL) AND $2::text IS NOT NULL
     ),
     -- For the rest of this statement's transaction (read, so that it runs).
     commit_mode AS (SELECT CASE WHEN $12::boolean THEN set_config('synchronous_commit', 'off', true) ELSE current_setting('synchronous_commit') END AS mode)
     SELECT decided.*, commit_mode.mode AS commit_mode FROM decided CROSS JOIN commit_mode`,
    [
      by.callId ? by.callId : (by.callSid ?? null),
      change.callSid,
      change.status,
      change.behind,
      change.sequenceNumber,
      change.durationSeconds,
      change.errorCode,
      change.errorMessage,
      change.finishJobAs,
      change.unlessRetryable,
      change.signedFor,
      change.flushLater,
    ],
  );
  return r.rows[0] ?? null;
}

/**
 * When an active call is due for a check with the carrier: its scheduled check, else `$n` seconds
 * after its last news (see src/calls/check-schedule.ts).
 */
export const dueAt = (quietSecondsParam: string) => `COALESCE(next_check_at, updated_at + make_interval(secs => ${quietSecondsParam}))`;

/**
 * A call due for a check, with the seconds until it may be withdrawn if the carrier has no call for
 * it, by the database's clock (null: never dialed; 0 or less: now).
 */
export type DueCall = CallRow & { withdrawable_in_seconds: number | null };

/**
 * Takes a business's active calls due for a check with the carrier, the longest due first, and
 * leases them for `leaseSeconds` (their next check is pushed that far): another pass at the same
 * time (a second run of the business, the sweep) takes others, so no call is asked about twice.
 * A pass that dies mid-way leaves its calls due again when the lease ends.
 */
export async function takeCallsDueForCheck(
  db: Executor,
  businessId: string,
  quiet: { seconds: number; limit: number; leaseSeconds: number; afterDialSeconds: number },
): Promise<DueCall[]> {
  const r = await db.query<DueCall>(
    `WITH due AS (
       SELECT id FROM calls WHERE business_id = $1 AND ${activeCallSql()} AND ${dueAt('$2')} <= now()
        ORDER BY ${dueAt('$2')} LIMIT $3 FOR UPDATE SKIP LOCKED
     )
     UPDATE calls c SET next_check_at = now() + make_interval(secs => $4) FROM due WHERE c.id = due.id
     RETURNING c.*, extract(epoch FROM ${withdrawableAtSql('$5')} - now())::float8 AS withdrawable_in_seconds`,
    [businessId, quiet.seconds, quiet.limit, quiet.leaseSeconds, quiet.afterDialSeconds],
  );
  return r.rows;
}

export async function businessesWithCallsDue(db: Executor, quietSeconds: number, limit: number): Promise<string[]> {
  const r = await db.query<{ business_id: string }>(
    `SELECT DISTINCT business_id FROM calls WHERE status = ANY($1) AND ${dueAt('$2')} <= now() LIMIT $3`,
    [ACTIVE_CALL_STATUSES, quietSeconds, limit],
  );
  return r.rows.map((row) => row.business_id);
}

/** The carrier answered 404 for this call's SID: kept (the first time) so the call is held for an operator. */
export async function markCarrierUnknown(db: Executor, id: string): Promise<void> {
  await db.query('UPDATE calls SET carrier_unknown_at = COALESCE(carrier_unknown_at, now()) WHERE id = $1', [id]);
}

/**
 * Whether an active call waits for an operator: the carrier does not know it, or `$n` checks in a
 * row learned nothing from it (see GET /v1/held-calls). The list's definition; the release reads the
 * same rule off the row it locks (isHeldCallRow).
 */
const HELD = (checksParam: string) => `(carrier_unknown_at IS NOT NULL OR uncertain_checks > ${checksParam})`;

/** Every business's held calls (see HELD), the oldest first. */
export async function heldCallRows(db: Executor, afterChecks: number, limit: number): Promise<CallRow[]> {
  const r = await db.query<CallRow>(`SELECT * FROM calls WHERE status = ANY($1) AND ${HELD('$2')} ORDER BY created_at, id LIMIT $3`, [
    ACTIVE_CALL_STATUSES,
    afterChecks,
    limit,
  ]);
  return r.rows;
}

/** HELD of a call's row as read (e.g. locked by the statement that ends it), whatever its status. */
export function isHeldCallRow(call: Pick<CallRow, 'carrier_unknown_at' | 'uncertain_checks'>, afterChecks: number): boolean {
  return call.carrier_unknown_at !== null || call.uncertain_checks > afterChecks;
}

/**
 * Makes every dialed active call without news since `since` due for a check now (its callbacks may
 * have been refused meanwhile); returns the businesses they belong to. A call another statement
 * holds is skipped (it is getting news): so this many-row update never waits, nor deadlocks with a
 * dial recording its calls' SIDs.
 */
export async function checkCallsQuietSince(db: Executor, since: Date): Promise<string[]> {
  const r = await db.query<{ business_id: string }>(
    `WITH quiet AS (
       SELECT id FROM calls
        WHERE status = ANY($1) AND dialed_at IS NOT NULL AND updated_at < $2 AND (next_check_at IS NULL OR next_check_at > now())
        FOR UPDATE SKIP LOCKED
     ),
     due AS (
       UPDATE calls SET next_check_at = now() FROM quiet WHERE calls.id = quiet.id
       RETURNING business_id
     )
     SELECT DISTINCT business_id FROM due`,
    [ACTIVE_CALL_STATUSES, since],
  );
  return r.rows.map((row) => row.business_id);
}

/**
 * The dials to one number from one caller ID whose SID Outdial does not know (`reserved`, dialed,
 * no SID), the oldest first: calls at the carrier to that number may be any of theirs.
 * `inFlightSeconds`: how much longer its create may still be answered (its dial bound,
 * `afterDialSeconds`); 0 when it can no longer be.
 */
export async function dialsWithoutSid(db: Executor, to: string, from: string, afterDialSeconds: number): Promise<{ id: string; createdAt: Date; inFlightSeconds: number }[]> {
  const r = await db.query<{ id: string; created_at: Date; in_flight_seconds: number }>(
    `SELECT id, created_at, extract(epoch FROM ${withdrawableAtSql('$3')} - now())::float8 AS in_flight_seconds FROM calls
      WHERE to_number = $1 AND from_number = $2 AND status = 'reserved' AND twilio_call_sid IS NULL AND dialed_at IS NOT NULL
      ORDER BY dialed_at, id`,
    [to, from, afterDialSeconds],
  );
  return r.rows.map((row) => ({ id: row.id, createdAt: row.created_at, inFlightSeconds: Math.max(0, row.in_flight_seconds) }));
}

/** Which of these carrier SIDs some call row already owns. */
export async function ownedCallSids(db: Executor, sids: string[]): Promise<Set<string>> {
  const r = await db.query<{ twilio_call_sid: string }>('SELECT twilio_call_sid FROM calls WHERE twilio_call_sid = ANY($1)', [sids]);
  return new Set(r.rows.map((row) => row.twilio_call_sid));
}

/**
 * A check with the carrier brought no news: the call is asked about again in `delaySeconds`.
 * `confirmed`: the carrier said the call is live as we know it (else the check failed or found nothing).
 */
export async function scheduleNextCheck(db: Executor, id: string, delaySeconds: number, confirmed: boolean): Promise<void> {
  await db.query(
    `UPDATE calls SET checks = checks + 1, uncertain_checks = CASE WHEN $4 THEN 0 ELSE uncertain_checks + 1 END,
            next_check_at = now() + make_interval(secs => $2)
      WHERE id = $1 AND status = ANY($3)`,
    [id, delaySeconds, ACTIVE_CALL_STATUSES, confirmed],
  );
}

/** A run's calls counted by Twilio's answering-machine verdict (calls without one are left out). */
export async function answeredByTally(db: Executor, runId: string): Promise<Map<AnsweredBy, number>> {
  const r = await db.query<{ answered_by: AnsweredBy; n: string }>(
    'SELECT answered_by, count(*) AS n FROM calls WHERE run_id = $1 AND answered_by IS NOT NULL GROUP BY answered_by',
    [runId],
  );
  return new Map(r.rows.map((row) => [row.answered_by, Number(row.n)]));
}

/** Active calls of every business, per direction (the metrics gauge). */
export async function countActiveCallsPerDirection(db: Executor): Promise<Map<CallDirection, number>> {
  const r = await db.query<{ direction: CallDirection; n: string }>('SELECT direction, count(*) AS n FROM calls WHERE status = ANY($1) GROUP BY direction', [ACTIVE_CALL_STATUSES]);
  return new Map(r.rows.map((row) => [row.direction, Number(row.n)]));
}

export interface CallFilter {
  direction: CallDirection | null;
  statuses: readonly CallStatus[] | null;
  /** created_at at or after. */
  since: Date | null;
  /** created_at before. */
  until: Date | null;
}

/** A page of a business's calls, newest first, after the keyset `before`; a null filter field = any. */
export async function listCallRows(
  db: Executor,
  businessId: string,
  page: CallFilter & { before: TimeKey | null; limit: number },
): Promise<(CallRow & { created_us: string })[]> {
  const r = await db.query<CallRow & { created_us: string }>(
    `SELECT *, ${CREATED_US} AS created_us FROM calls
      WHERE business_id = $1 AND ($2::text IS NULL OR direction = $2) AND ($3::text[] IS NULL OR status = ANY($3))
        AND ($4::timestamptz IS NULL OR created_at >= $4) AND ($5::timestamptz IS NULL OR created_at < $5)
        AND ($6::bigint IS NULL OR (created_at, id) < (${FROM_US('$6')}, $7::uuid))
      ORDER BY created_at DESC, id DESC LIMIT $8`,
    [businessId, page.direction, page.statuses, page.since, page.until, page.before?.createdUs ?? null, page.before?.id ?? null, page.limit],
  );
  return r.rows;
}

/** The calls of these leads of a run (every attempt's, found by its job), each lead's in attempt order. */
export async function callsOfLeads(db: Executor, runId: string, leadIds: readonly string[]): Promise<(CallRow & { lead_id: string; attempt: number })[]> {
  const r = await db.query<CallRow & { lead_id: string; attempt: number }>(
    `SELECT c.*, j.lead_id, j.attempt FROM outbound_call_jobs j JOIN calls c ON c.job_id = j.id
      WHERE j.run_id = $1 AND j.lead_id = ANY($2) ORDER BY j.lead_id, j.attempt`,
    [runId, leadIds],
  );
  return r.rows;
}
