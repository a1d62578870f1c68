import type { PoolClient } from 'pg';
import { ACTIVE_CALL_STATUSES, type CallDirection, type CallStatus } from '../statuses';
import type { Executor } from './executor';

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
  created_at: Date;
  dialed_at: Date | null;
  answered_at: Date | null;
  ended_at: Date | null;
}

export async function countActiveCalls(db: Executor, businessId: string): Promise<number> {
  const r = await db.query<{ n: string }>('SELECT count(*) AS n FROM calls WHERE business_id = $1 AND status = ANY($2)', [
    businessId,
    ACTIVE_CALL_STATUSES,
  ]);
  return Number(r.rows[0]?.n ?? 0);
}

export interface NewReservedCall {
  id: string;
  to: string;
  statusCallbackUrl: string;
  /** Bulk calls: the job (and run) the slot is for. */
  jobId?: string;
}

export async function insertReservedCalls(
  client: PoolClient,
  slot: { businessId: string; from: string; runId: string | null },
  calls: NewReservedCall[],
): Promise<void> {
  await client.query(
    `INSERT INTO calls (id, business_id, direction, status, to_number, from_number, run_id, job_id, status_callback_url)
     SELECT c.id, $1, CASE WHEN $3::uuid IS NULL THEN 'direct' ELSE 'bulk' END, 'reserved', c.phone, $2, $3, c.job_id, c.url
       FROM unnest($4::uuid[], $5::uuid[], $6::text[], $7::text[]) AS c(id, job_id, phone, url)`,
    [
      slot.businessId,
      slot.from,
      slot.runId,
      calls.map((c) => c.id),
      calls.map((c) => c.jobId ?? null),
      calls.map((c) => c.to),
      calls.map((c) => c.statusCallbackUrl),
    ],
  );
}

export async function findCall(db: Executor, id: string): Promise<CallRow | null> {
  return (await db.query<CallRow>('SELECT * FROM calls WHERE id = $1', [id])).rows[0] ?? null;
}

export async function statusCallbackUrlOf(db: Executor, id: string): Promise<string | null> {
  return (await db.query<{ status_callback_url: string | null }>('SELECT status_callback_url FROM calls WHERE id = $1', [id])).rows[0]?.status_callback_url ?? null;
}

/**
 * The last word before the carrier is asked: the call is still a fresh reservation and its run (if
 * any) still running; records `dialed_at`, so a reservation without it never reached the carrier.
 */
export async function beginDial(db: Executor, id: string): Promise<boolean> {
  const r = await db.query(
    `UPDATE calls c SET dialed_at = now(), updated_at = now()
      WHERE c.id = $1 AND c.status = 'reserved' AND c.dialed_at IS NULL
        AND (c.run_id IS NULL OR EXISTS (SELECT 1 FROM bulk_call_runs r WHERE r.id = c.run_id AND r.status = 'running'))`,
    [id],
  );
  return (r.rowCount ?? 0) > 0;
}

/** The carrier accepted the call: keep its SID on the call and its job; a callback may already have moved the status past `queued`. */
export async function recordPlaced(db: Executor, id: string, sid: string): Promise<void> {
  await db.query(
    `WITH c AS (
       UPDATE calls
          SET twilio_call_sid = COALESCE(twilio_call_sid, $2),
              status = CASE WHEN status = 'reserved' THEN 'queued' ELSE status END,
              updated_at = now()
        WHERE id = $1
       RETURNING job_id
     )
     UPDATE outbound_call_jobs j SET twilio_call_sid = COALESCE(j.twilio_call_sid, $2), updated_at = now()
       FROM c WHERE j.id = c.job_id`,
    [id, sid],
  );
}

/**
 * A request the carrier never processed: delete the reservation and put its job back in the queue.
 * (A canceling run claims nothing more; its next pass ends what is queued.)
 */
export async function withdrawReservation(db: Executor, id: string): Promise<void> {
  await db.query(
    `WITH c AS (DELETE FROM calls WHERE id = $1 AND status = 'reserved' AND twilio_call_sid IS NULL RETURNING job_id)
     UPDATE outbound_call_jobs j
        SET status = 'queued', dial_lock_token = NULL, dial_started_at = NULL, updated_at = now()
       FROM c WHERE j.id = c.job_id AND j.status = 'dialing'`,
    [id],
  );
}

export async function recordUnknownOutcome(db: Executor, id: string, message: string): Promise<void> {
  await db.query('UPDATE calls SET last_error = $2, updated_at = now() WHERE id = $1', [id, `dial outcome unknown: ${message}`]);
}

/** Locks a call for a status change, found by Outdial's ID (preferred: it exists before the SID) or the carrier's SID. */
export async function lockCall(client: PoolClient, by: { callId?: string; callSid?: string }): Promise<CallRow | null> {
  const r = by.callId
    ? await client.query<CallRow>('SELECT * FROM calls WHERE id = $1 FOR UPDATE', [by.callId])
    : await client.query<CallRow>('SELECT * FROM calls WHERE twilio_call_sid = $1 FOR UPDATE', [by.callSid]);
  return r.rows[0] ?? null;
}

export async function learnCallSid(client: PoolClient, id: string, sid: string): Promise<void> {
  await client.query('UPDATE calls SET twilio_call_sid = $2, updated_at = now() WHERE id = $1', [id, sid]);
}

export async function setCallStatus(
  client: PoolClient,
  id: string,
  update: { status: CallStatus; callSid: string | null; sequenceNumber: number | null; durationSeconds: number | null; errorCode: number | null; errorMessage: string | null; terminal: boolean },
): Promise<void> {
  await client.query(
    `UPDATE calls SET
        status = $2,
        twilio_call_sid = COALESCE(twilio_call_sid, $3),
        last_sequence_number = GREATEST(last_sequence_number, $4),
        duration_seconds = COALESCE($5, duration_seconds),
        error_code = COALESCE($6, error_code),
        last_error = COALESCE($7, last_error),
        answered_at = CASE WHEN $2 = 'in-progress' THEN COALESCE(answered_at, now()) ELSE answered_at END,
        ended_at = CASE WHEN $8 THEN now() ELSE ended_at END,
        updated_at = now()
      WHERE id = $1`,
    [id, update.status, update.callSid, update.sequenceNumber, update.durationSeconds, update.errorCode, update.errorMessage, update.terminal],
  );
}

/** A business's active calls with no news for `seconds`, the quietest first. */
export async function staleActiveCalls(db: Executor, businessId: string, seconds: number, limit: number): Promise<CallRow[]> {
  const r = await db.query<CallRow>(
    `SELECT * FROM calls WHERE business_id = $1 AND status = ANY($2) AND updated_at < now() - make_interval(secs => $3)
      ORDER BY updated_at LIMIT $4`,
    [businessId, ACTIVE_CALL_STATUSES, seconds, limit],
  );
  return r.rows;
}

export async function businessesWithStaleCalls(db: Executor, seconds: number, limit: number): Promise<string[]> {
  const r = await db.query<{ business_id: string }>(
    `SELECT DISTINCT business_id FROM calls WHERE status = ANY($1) AND updated_at < now() - make_interval(secs => $2) LIMIT $3`,
    [ACTIVE_CALL_STATUSES, seconds, limit],
  );
  return r.rows.map((row) => row.business_id);
}

/** Which of these carrier SIDs some call row already owns. */
export async function ownedCallSids(db: Executor, sids: string[]): Promise<Set<string>> {
  const r = await db.query<{ twilio_call_sid: string }>('SELECT twilio_call_sid FROM calls WHERE twilio_call_sid = ANY($1)', [sids]);
  return new Set(r.rows.map((row) => row.twilio_call_sid));
}

/** Nothing new from the carrier: asked about again only after another quiet period. */
export async function touchCall(db: Executor, id: string): Promise<void> {
  await db.query('UPDATE calls SET updated_at = now() WHERE id = $1', [id]);
}
