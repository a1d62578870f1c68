import type { PoolClient } from 'pg';
import type { CallStatus, JobStatus } from '../statuses';
import type { Executor } from './executor';

/** Queries of the `leads` and `outbound_call_jobs` tables: a run's list and where each lead stands. */

export interface NewLead {
  phone: string;
  name?: string | undefined;
}

/** The leads of a new run and one job each, in the order given: that is the order they are dialed. */
export async function insertLeadsAndJobs(client: PoolClient, runId: string, businessId: string, leadIds: string[], leads: NewLead[]): Promise<void> {
  await client.query(
    `INSERT INTO leads (id, business_id, phone, name)
     SELECT id, $1, phone, name FROM unnest($2::uuid[], $3::text[], $4::text[]) AS t(id, phone, name)`,
    [businessId, leadIds, leads.map((l) => l.phone), leads.map((l) => l.name ?? null)],
  );
  await client.query(
    `INSERT INTO outbound_call_jobs (run_id, lead_id, position)
     SELECT $1, lead_id, ord - 1 FROM unnest($2::uuid[]) WITH ORDINALITY AS t(lead_id, ord)`,
    [runId, leadIds],
  );
}

export interface ClaimedJob {
  id: string;
  lead_id: string;
  position: number;
  phone: string;
}

/**
 * The conditional claim: up to `max` queued jobs of the run, in order, move to `dialing` under this
 * caller's lock token. A job another claimer holds (row-locked or already claimed) is skipped.
 */
export async function claimQueuedJobs(client: PoolClient, runId: string, max: number, lockToken: string): Promise<ClaimedJob[]> {
  const r = await client.query<ClaimedJob>(
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
    [runId, max, lockToken],
  );
  return r.rows.sort((a, b) => a.position - b.position);
}

/** Ends every queued job of a run as canceled: the one place a canceled run's queue is emptied. */
export async function cancelQueuedJobs(db: Executor, runId: string): Promise<number> {
  const r = await db.query(
    `UPDATE outbound_call_jobs SET status = 'canceled', finished_at = now(), updated_at = now()
      WHERE run_id = $1 AND status = 'queued'`,
    [runId],
  );
  return r.rowCount ?? 0;
}

/** A job whose call ended: its status follows the call's terminal status. */
export async function finishJob(
  client: PoolClient,
  jobId: string,
  ended: { status: JobStatus; outcome: CallStatus; callSid: string | null; errorCode: number | null; errorMessage: string | null },
): Promise<void> {
  await client.query(
    `UPDATE outbound_call_jobs SET status = $2, outcome = $3, twilio_call_sid = COALESCE(twilio_call_sid, $4),
            error_code = COALESCE($5, error_code), last_error = COALESCE($6, last_error), finished_at = now(), updated_at = now()
      WHERE id = $1 AND status = 'dialing'`,
    [jobId, ended.status, ended.outcome, ended.callSid, ended.errorCode, ended.errorMessage],
  );
}

export async function countJobsInStatus(db: Executor, runId: string): Promise<{ queued: number; dialing: number }> {
  const r = await db.query<{ queued: string; dialing: string }>(
    `SELECT count(*) FILTER (WHERE status = 'queued') AS queued, count(*) FILTER (WHERE status = 'dialing') AS dialing
       FROM outbound_call_jobs WHERE run_id = $1`,
    [runId],
  );
  return { queued: Number(r.rows[0]?.queued ?? 0), dialing: Number(r.rows[0]?.dialing ?? 0) };
}

/** A run's jobs counted by status and by outcome. */
export async function jobTallies(db: Executor, runId: string): Promise<{ byStatus: Map<string, number>; byOutcome: Map<string, number> }> {
  const r = await db.query<{ status: string; outcome: string | null; n: string }>(
    'SELECT status, outcome, count(*) AS n FROM outbound_call_jobs WHERE run_id = $1 GROUP BY status, outcome',
    [runId],
  );
  const byStatus = new Map<string, number>();
  const byOutcome = new Map<string, number>();
  for (const row of r.rows) {
    byStatus.set(row.status, (byStatus.get(row.status) ?? 0) + Number(row.n));
    if (row.outcome) byOutcome.set(row.outcome, (byOutcome.get(row.outcome) ?? 0) + Number(row.n));
  }
  return { byStatus, byOutcome };
}
