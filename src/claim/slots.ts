import { randomUUID } from 'node:crypto';
import type { PoolClient } from 'pg';
import { statusCallbackUrl } from './calls/status-callback-url';
import { inTransaction, Rollback, type Database } from './db/client';
import { lockBusiness } from './db/queries/businesses';
import { countActiveCalls, insertReservedCalls } from './db/queries/calls';
import { claimQueuedJobs } from './db/queries/jobs';
import { findRun, runStatus } from './db/queries/runs';
import type { RunStatus } from './db/statuses';

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
  const business = await lockBusiness(client, businessId);
  if (!business) return null;
  return { limit: business.maxConcurrentCalls, active: await countActiveCalls(client, businessId), callerId: business.callerId };
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
  runStatus: RunStatus | null;
}

/**
 * Reserve-and-claim for one run, in one transaction under the business's slot lock: count the free
 * slots, claim up to that many queued jobs with the conditional UPDATE (a loser claims nothing), and
 * insert their `reserved` call rows. Only after this commits may the caller dial.
 */
export function reserveAndClaimJobs(database: Database, runId: string, lockToken: string, publicBaseUrl: string, max = Infinity): Promise<ClaimResult> {
  return inTransaction(database, async (client) => {
    const run = await findRun(client, runId);
    if (!run) return { claimed: [], slots: { limit: 0, active: 0, callerId: '' }, runStatus: null };
    const slots = await lockBusinessSlots(client, run.business_id);
    if (!slots) throw new Error(`business ${run.business_id} of run ${runId} does not exist`);
    // Read the run's status under the lock: a pause committed before this point stops new dials.
    const status = await runStatus(client, runId);
    const free = Math.min(max, slots.limit - slots.active);
    if (status !== 'running' || free <= 0) return { claimed: [], slots, runStatus: status };

    const jobs = await claimQueuedJobs(client, runId, free, lockToken);
    if (jobs.length === 0) return { claimed: [], slots, runStatus: status };
    const calls = jobs.map((job) => {
      const callId = randomUUID();
      return { callId, jobId: job.id, leadId: job.lead_id, position: job.position, to: job.phone, from: slots.callerId, statusCallbackUrl: statusCallbackUrl(publicBaseUrl, callId) };
    });
    await insertReservedCalls(
      client,
      { businessId: run.business_id, from: slots.callerId, runId },
      calls.map((c) => ({ id: c.callId, to: c.to, statusCallbackUrl: c.statusCallbackUrl, jobId: c.jobId })),
    );
    return { claimed: calls, slots: { ...slots, active: slots.active + calls.length }, runStatus: status };
  });
}

export type DirectReservation =
  | { ok: true; call: ReservedCall; slots: BusinessSlots }
  | { ok: false; reason: 'business-not-found' }
  | { ok: false; reason: 'at-limit'; slots: BusinessSlots }
  | { ok: false; reason: 'stopped' };

/** What a caller does inside the reservation's transaction (e.g. an idempotency record). */
export interface ReservationHooks {
  /** First, before the lock; `true` stops: nothing is reserved and the transaction commits what the hook did. */
  before?: (client: PoolClient) => Promise<boolean>;
  /** Once the slot is reserved, to commit with it. */
  after?: (client: PoolClient, call: ReservedCall) => Promise<void>;
}

/**
 * A direct call takes the same lock, counts, and inserts its `reserved` row, or is refused at the
 * limit; a refusal rolls back whatever `hooks.before` wrote.
 */
export function reserveDirectCall(database: Database, businessId: string, to: string, publicBaseUrl: string, hooks: ReservationHooks = {}): Promise<DirectReservation> {
  return inTransaction(database, async (client): Promise<DirectReservation> => {
    if (await hooks.before?.(client)) return { ok: false, reason: 'stopped' };
    const slots = await lockBusinessSlots(client, businessId);
    if (!slots) throw new Rollback<DirectReservation>({ ok: false, reason: 'business-not-found' });
    if (slots.active >= slots.limit) throw new Rollback<DirectReservation>({ ok: false, reason: 'at-limit', slots });
    const callId = randomUUID();
    const call: ReservedCall = { callId, to, from: slots.callerId, statusCallbackUrl: statusCallbackUrl(publicBaseUrl, callId) };
    await insertReservedCalls(client, { businessId, from: slots.callerId, runId: null }, [{ id: callId, to, statusCallbackUrl: call.statusCallbackUrl }]);
    await hooks.after?.(client, call);
    return { ok: true, call, slots: { ...slots, active: slots.active + 1 } };
  });
}
