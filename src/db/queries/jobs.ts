import type { PoolClient } from 'pg';
import type { LeadVariables } from '../settings';
import type { CallStatus, JobStatus } from '../statuses';
import type { Executor } from './executor';

/** Queries of the `leads` and `outbound_call_jobs` tables: a run's list and where each lead stands. */

export interface NewLead {
  phone: string;
  name?: string | undefined;
  variables?: LeadVariables | undefined;
}

/** The leads of a new run and one job each, in the order given: that is the order they are dialed. */
export async function insertLeadsAndJobs(client: PoolClient, runId: string, businessId: string, leadIds: string[], leads: NewLead[]): Promise<void> {
  await client.query(
    `INSERT INTO leads (id, business_id, phone, name, variables)
     SELECT id, $1, phone, name, variables FROM unnest($2::uuid[], $3::text[], $4::text[], $5::jsonb[]) AS t(id, phone, name, variables)`,
    [businessId, leadIds, leads.map((l) => l.phone), leads.map((l) => l.name ?? null), leads.map((l) => (l.variables ? JSON.stringify(l.variables) : null))],
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
  name: string | null;
  variables: LeadVariables | null;
}

/**
 * The conditional claim: the next queued jobs of the run, in order, move to `dialing` under this
 * caller's lock token, skipping any job another claimer holds. A picked job whose number is on the
 * business's or the global do-not-call list ends `skipped_dnc` in the same statement instead, and
 * takes no slot: the claim picks again until it has `max` dialable jobs or the queue is empty.
 * (One statement per round reads the list as committed when it starts, after the slot lock was
 * taken: a number listed before the claim is never claimed.)
 */
/** How many listed numbers one round of the claim can step over beyond the jobs it wants. */
const LISTED_LOOKAHEAD = 200;

export async function claimQueuedJobs(client: PoolClient, run: { id: string; businessId: string }, max: number, lockToken: string): Promise<{ claimed: ClaimedJob[]; skipped: number }> {
  const claimed: ClaimedJob[] = [];
  let skipped = 0;
  for (;;) {
    const wanted = max - claimed.length;
    const r = await client.query<ClaimedJob & { skipped: boolean }>(
      `WITH candidates AS (
         SELECT j.id, j.position,
                EXISTS (SELECT 1 FROM do_not_call_numbers d WHERE d.phone = l.phone AND (d.business_id = $4 OR d.business_id IS NULL)) AS listed
           FROM outbound_call_jobs j JOIN leads l ON l.id = j.lead_id
          WHERE j.run_id = $1 AND j.status = 'queued'
          ORDER BY j.position
          LIMIT $2::int + $5::int
          FOR UPDATE OF j SKIP LOCKED
       ),
       -- n: how many dialable jobs come up to this one. Keep the first $2 dialable jobs and the listed ones before the last of them.
       numbered AS (SELECT id, listed, count(*) FILTER (WHERE NOT listed) OVER (ORDER BY position) AS n FROM candidates),
       picked AS (SELECT id, listed FROM numbered WHERE n <= $2::int AND NOT (listed AND n = $2::int)),
       skip AS (
         UPDATE outbound_call_jobs j SET status = 'skipped_dnc', last_error = 'the number is on a do-not-call list', finished_at = now(), updated_at = now()
           FROM picked WHERE j.id = picked.id AND picked.listed
         RETURNING j.id
       ),
       claim AS (
         UPDATE outbound_call_jobs j
            SET status = 'dialing', dial_started_at = now(), dial_lock_token = $3, updated_at = now()
           FROM picked
          WHERE j.id = picked.id AND NOT picked.listed
            AND j.status = 'queued' AND j.twilio_call_sid IS NULL AND j.dial_lock_token IS NULL
         RETURNING j.id, j.lead_id, j.position
       )
       SELECT c.id, c.lead_id, c.position, l.phone, l.name, l.variables, false AS skipped FROM claim c JOIN leads l ON l.id = c.lead_id
       UNION ALL
       SELECT s.id, NULL, NULL, NULL, NULL, NULL, true FROM skip s`,
      [run.id, wanted, lockToken, run.businessId, LISTED_LOOKAHEAD],
    );
    const skippedNow = r.rows.filter((row) => row.skipped).length;
    skipped += skippedNow;
    for (const row of r.rows) if (!row.skipped) claimed.push({ id: row.id, lead_id: row.lead_id, position: row.position, phone: row.phone, name: row.name, variables: row.variables });
    // Only a round that lost picks to the list can have left dialable jobs behind.
    if (skippedNow === 0 || claimed.length >= max) break;
  }
  return { claimed: claimed.sort((a, b) => a.position - b.position), skipped };
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
