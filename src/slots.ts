import { randomUUID } from 'node:crypto';
import type { PoolClient } from 'pg';
import { statusCallbackUrl } from './calls/status-callback-url';
import { inTransaction, type Database } from './db/client';
import { ACTIVE_CALL_STATUSES, sqlList } from './db/statuses';

/**
 * Slots: the one place that decides how many calls a business may start.
 *
 * A slot is an outbound call of a business that is not finished. Every outbound call, bulk or
 * direct, has a `calls` row from the moment its slot is reserved (status `reserved`, before the
 * carrier is asked) until the carrier reports a terminal status. The active count is one query over
 * that table, so every worker, run and API process counts the same rows.
 *
 * Why the limit holds: every slot-taker of a business (each run's claim, each direct call, on any
 * process) first takes a row lock on the business (`FOR NO KEY UPDATE`), then counts, then inserts
 * its `reserved` rows, all in one transaction. The lock serialises slot-takers of one business and
 * nobody else; the count therefore sees every committed reservation, and the reservations it adds
 * are visible to the next lock holder. Rows only leave the active set when the carrier says the
 * call ended, or when the call certainly never existed there (refused with a 4xx, a 429, a refused
 * connection, or absent when reconciled), so the carrier's live calls are always a subset of our
 * active rows, and active rows never exceed the limit at any commit.
 * (`FOR NO KEY UPDATE` rather than `FOR UPDATE`: it does not conflict with the `FOR KEY SHARE`
 * locks that foreign-key checks take, so inserting leads or runs never waits on a dial.)
 */

const ACTIVE = sqlList(ACTIVE_CALL_STATUSES);

/**
 * A reserved call, ready to dial. Its status callback URL is fixed here and stored on the row, so
 * callbacks are verified against the URL the carrier was actually given, whatever PUBLIC_HOST
 * says by the time they arrive.
 */
export interface ReservedCall {
  callId: string;
  to: string;
  from: string;
  statusCallbackUrl: string;
}

export interface BusinessSlots {
  limit: number;
  active: number;
  callerId: string;
}

/** Takes the business's slot lock for the rest of the transaction and reads its limit and active count. */
async function lockBusinessSlots(client: PoolClient, businessId: string): Promise<BusinessSlots | null> {
  const business = await client.query<{ max_concurrent_calls: number; caller_id: string }>(
    'SELECT max_concurrent_calls, caller_id FROM businesses WHERE id = $1 FOR NO KEY UPDATE',
    [businessId],
  );
  const row = business.rows[0];
  if (!row) return null;
  const active = await countActive(client, businessId);
  return { limit: row.max_concurrent_calls, active, callerId: row.caller_id };
}

async function countActive(client: Pick<PoolClient, 'query'>, businessId: string): Promise<number> {
  const r = await client.query<{ n: string }>(
    `SELECT count(*) AS n FROM calls WHERE business_id = $1 AND status IN (${ACTIVE})`,
    [businessId],
  );
  return Number(r.rows[0]?.n ?? 0);
}

/** Active calls of a business right now: reserved, queued, initiated, ringing or in progress. */
export function countActiveCalls(database: Database, businessId: string): Promise<number> {
  return countActive(database.pool, businessId);
}

export interface ReservedBulkCall extends ReservedCall {
  jobId: string;
  leadId: string;
  position: number;
}

export interface ClaimResult {
  /** Jobs this caller won, each with its reserved call row: dial exactly these. */
  claimed: ReservedBulkCall[];
  slots: BusinessSlots;
  runStatus: string | null;
}

/**
 * Reserve-and-claim for one run, in one transaction under the business's slot lock: count the free
 * slots, claim up to that many queued jobs with the conditional UPDATE (a loser claims nothing), and
 * insert their `reserved` call rows. Only after this commits may the caller dial.
 */
export function reserveAndClaimJobs(database: Database, runId: string, lockToken: string, publicBaseUrl: string, max = Infinity): Promise<ClaimResult> {
  return inTransaction(database, async (client) => {
    const run = await client.query<{ business_id: string }>(
      'SELECT business_id FROM bulk_call_runs WHERE id = $1',
      [runId],
    );
    const runRow = run.rows[0];
    if (!runRow) return { claimed: [], slots: { limit: 0, active: 0, callerId: '' }, runStatus: null };
    const slots = await lockBusinessSlots(client, runRow.business_id);
    if (!slots) throw new Error(`business ${runRow.business_id} of run ${runId} does not exist`);
    // Read the run's status under the lock: a pause committed before this point stops new dials.
    const status = (await client.query<{ status: string }>('SELECT status FROM bulk_call_runs WHERE id = $1', [runId])).rows[0]?.status ?? null;
    const free = Math.min(max, slots.limit - slots.active);
    if (status !== 'running' || free <= 0) return { claimed: [], slots, runStatus: status };

    const claimed = await client.query<{ id: string; lead_id: string; position: number; phone: string }>(
      `WITH picked AS (
         SELECT id FROM outbound_call_jobs
          WHERE run_id = $1 AND status = 'queued'
          ORDER BY position
          LIMIT $2
          FOR UPDATE SKIP LOCKED
       )
       UPDATE outbound_call_jobs j
          SET status = 'dialing', dial_started_at = now(), dial_lock_token = $3, updated_at = now()
         FROM picked, leads l
        WHERE j.id = picked.id AND l.id = j.lead_id
          AND j.status = 'queued' AND j.twilio_call_sid IS NULL AND j.dial_lock_token IS NULL
       RETURNING j.id, j.lead_id, j.position, l.phone`,
      [runId, free, lockToken],
    );
    if (claimed.rows.length === 0) return { claimed: [], slots, runStatus: status };

    const calls = claimed.rows
      .sort((a, b) => a.position - b.position)
      .map((r) => {
        const callId = randomUUID();
        return { callId, jobId: r.id, leadId: r.lead_id, position: r.position, to: r.phone, from: slots.callerId, statusCallbackUrl: statusCallbackUrl(publicBaseUrl, callId) };
      });
    await client.query(
      `INSERT INTO calls (id, business_id, direction, status, to_number, from_number, run_id, job_id, status_callback_url)
       SELECT c.id, $1, 'bulk', 'reserved', c.phone, $2, $3, c.job_id, c.url
         FROM unnest($4::uuid[], $5::uuid[], $6::text[], $7::text[]) AS c(id, job_id, phone, url)`,
      [runRow.business_id, slots.callerId, runId, calls.map((c) => c.callId), calls.map((c) => c.jobId), calls.map((c) => c.to), calls.map((c) => c.statusCallbackUrl)],
    );
    return {
      claimed: calls,
      slots: { ...slots, active: slots.active + claimed.rows.length },
      runStatus: status,
    };
  });
}

export type DirectReservation =
  | { ok: true; call: ReservedCall; slots: BusinessSlots }
  | { ok: false; reason: 'business-not-found' }
  | { ok: false; reason: 'at-limit'; slots: BusinessSlots };

/** A direct call takes the same lock, counts, and inserts its `reserved` row, or is refused at the limit. */
export function reserveDirectCall(database: Database, businessId: string, to: string, publicBaseUrl: string): Promise<DirectReservation> {
  return inTransaction(database, async (client) => {
    const slots = await lockBusinessSlots(client, businessId);
    if (!slots) return { ok: false, reason: 'business-not-found' } as const;
    if (slots.active >= slots.limit) return { ok: false, reason: 'at-limit', slots } as const;
    const callId = randomUUID();
    const call: ReservedCall = { callId, to, from: slots.callerId, statusCallbackUrl: statusCallbackUrl(publicBaseUrl, callId) };
    await client.query(
      `INSERT INTO calls (id, business_id, direction, status, to_number, from_number, status_callback_url)
       VALUES ($1, $2, 'direct', 'reserved', $3, $4, $5)`,
      [callId, businessId, to, slots.callerId, call.statusCallbackUrl],
    );
    return { ok: true, call, slots: { ...slots, active: slots.active + 1 } } as const;
  });
}
