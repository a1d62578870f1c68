import type { MachineDetection, VoiceApp } from '../settings';
import { ACTIVE_CALL_STATUSES, type RunStatus } from '../statuses';
import type { Executor } from './executor';

/** Queries of the `bulk_call_runs` table. Status changes go through `changeRunStatus`, with the state machine's `from` list. */

export interface RunRow {
  id: string;
  business_id: string;
  status: RunStatus;
  workflow_id: string;
  duplicates_merged: number;
  voice_app: VoiceApp | null;
  caller_id: string | null;
  machine_detection: MachineDetection | null;
  max_concurrent_calls: number | null;
  jobs_claimed: number;
  last_error: string | null;
  created_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
}

export interface NewRun {
  id: string;
  businessId: string;
  workflowId: string;
  duplicatesMerged: number;
  voiceApp: VoiceApp | null;
  callerId: string | null;
  machineDetection: MachineDetection | null;
  maxConcurrentCalls: number | null;
}

export async function insertRun(db: Executor, run: NewRun): Promise<RunRow> {
  const r = await db.query<RunRow>(
    `INSERT INTO bulk_call_runs (id, business_id, workflow_id, duplicates_merged, voice_app, caller_id, machine_detection, max_concurrent_calls)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING *`,
    [run.id, run.businessId, run.workflowId, run.duplicatesMerged, run.voiceApp, run.callerId, run.machineDetection, run.maxConcurrentCalls],
  );
  return r.rows[0]!;
}

/** What the fair share of one business's run slots is computed from (src/claim/fair-share.ts). */
export interface RunDemandRow {
  id: string;
  max_concurrent_calls: number | null;
  active: number;
  has_queued: boolean;
  jobs_claimed: number;
}

/** The business's running runs: each one's active calls, whether it has queued jobs, how many it has claimed. */
export async function runDemands(db: Executor, businessId: string): Promise<RunDemandRow[]> {
  const r = await db.query<RunDemandRow & { active: string }>(
    `SELECT r.id, r.max_concurrent_calls, r.jobs_claimed,
            (SELECT count(*) FROM calls c WHERE c.run_id = r.id AND c.status = ANY($2)) AS active,
            EXISTS (SELECT 1 FROM outbound_call_jobs j WHERE j.run_id = r.id AND j.status = 'queued') AS has_queued
       FROM bulk_call_runs r WHERE r.business_id = $1 AND r.status = 'running'`,
    [businessId, ACTIVE_CALL_STATUSES],
  );
  return r.rows.map((row) => ({ ...row, active: Number(row.active) }));
}

export async function countClaimed(db: Executor, runId: string, claimed: number): Promise<void> {
  await db.query('UPDATE bulk_call_runs SET jobs_claimed = jobs_claimed + $2 WHERE id = $1', [runId, claimed]);
}

export async function findRun(db: Executor, id: string): Promise<RunRow | null> {
  return (await db.query<RunRow>('SELECT * FROM bulk_call_runs WHERE id = $1', [id])).rows[0] ?? null;
}

export async function runStatus(db: Executor, id: string): Promise<RunStatus | null> {
  return (await db.query<{ status: RunStatus }>('SELECT status FROM bulk_call_runs WHERE id = $1', [id])).rows[0]?.status ?? null;
}

/**
 * Moves a run to `to` if its status is one of `from`; returns the new status, or null if the run is
 * absent or in another status. `lastError`: undefined keeps it, null clears it.
 */
export async function changeRunStatus(
  db: Executor,
  id: string,
  change: { from: readonly RunStatus[]; to: RunStatus; lastError?: string | null; finished?: boolean; started?: boolean },
): Promise<RunStatus | null> {
  const r = await db.query<{ status: RunStatus }>(
    `UPDATE bulk_call_runs
        SET status = $3,
            last_error = CASE WHEN $4 THEN $5 ELSE last_error END,
            started_at = CASE WHEN $6 THEN COALESCE(started_at, now()) ELSE started_at END,
            finished_at = CASE WHEN $7 THEN now() ELSE finished_at END,
            updated_at = now()
      WHERE id = $1 AND status = ANY($2) RETURNING status`,
    [id, change.from, change.to, change.lastError !== undefined, change.lastError ?? null, change.started ?? false, change.finished ?? false],
  );
  return r.rows[0]?.status ?? null;
}

/** Workflow IDs of a business's runs whose workflow is alive, in the given statuses. */
export async function runWorkflowIds(db: Executor, businessId: string, statuses: readonly RunStatus[]): Promise<string[]> {
  const r = await db.query<{ workflow_id: string }>('SELECT workflow_id FROM bulk_call_runs WHERE business_id = $1 AND status = ANY($2)', [
    businessId,
    statuses,
  ]);
  return r.rows.map((row) => row.workflow_id);
}

/** Runs still `pending` this long after they were committed: their workflow start may have been lost. */
export async function pendingRunsOlderThan(db: Executor, seconds: number, opts: { businessId?: string; limit: number }): Promise<RunRow[]> {
  const r = await db.query<RunRow>(
    `SELECT * FROM bulk_call_runs
      WHERE status = 'pending' AND created_at < now() - make_interval(secs => $1) AND ($2::uuid IS NULL OR business_id = $2)
      ORDER BY created_at LIMIT $3`,
    [seconds, opts.businessId ?? null, opts.limit],
  );
  return r.rows;
}
