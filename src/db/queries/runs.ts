import type { CallingWindow, MachineDetection, RetryPolicy, VoiceApp } from '../settings';
import type { PoolClient } from 'pg';
import { activeCallSql, LEAD_ACCEPTING_RUN_STATUSES, LIVE_RUN_STATUSES, OPEN_JOB_STATUSES, type RunStatus } from '../statuses';
import { dueAt } from './calls';
import { MAX_DIAL_DELAY_SECONDS } from './jobs';
import type { Executor } from './executor';
import type { BusinessRow } from './businesses';
import { CREATED_US, FROM_US, type TimeKey } from './keyset';

/** A run kept open waits for leads, not completes: keepOpen and its stopAt not passed (`r`: the table's alias). */
const keptOpenSql = (r: string) => `(${r}.keep_open AND coalesce(${r}.stop_at > now(), true))`;

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
  calling_window: CallingWindow | null;
  retry_policy: RetryPolicy | null;
  start_at: Date | null;
  stop_at: Date | null;
  keep_open: boolean;
  waiting_reason: string | null;
  waiting_until: Date | null;
  jobs_claimed: number;
  woken_at: Date | null;
  session_until: Date | null;
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
  callingWindow: CallingWindow | null;
  retryPolicy: RetryPolicy | null;
  startAt: Date | null;
  stopAt: Date | null;
  keepOpen: boolean;
}

export async function insertRun(db: Executor, run: NewRun): Promise<RunRow> {
  const r = await db.query<RunRow>(
    `INSERT INTO bulk_call_runs (id, business_id, workflow_id, duplicates_merged, voice_app, caller_id, machine_detection, max_concurrent_calls,
                                 calling_window, start_at, stop_at, retry_policy, keep_open)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING *`,
    [
      run.id,
      run.businessId,
      run.workflowId,
      run.duplicatesMerged,
      run.voiceApp,
      run.callerId,
      run.machineDetection,
      run.maxConcurrentCalls,
      run.callingWindow,
      run.startAt,
      run.stopAt,
      run.retryPolicy,
      run.keepOpen,
    ],
  );
  return r.rows[0]!;
}

/** What the fair share of one business's run slots is computed from (src/claim/fair-share.ts). */
export interface RunDemandRow {
  id: string;
  workflow_id: string;
  max_concurrent_calls: number | null;
  active: number;
  has_queued: boolean;
  /** Has a queued job it may dial now: started, not past its stop, the lead inside its window. */
  has_dialable: boolean;
  jobs_claimed: number;
  /** Why its last claim found nothing dialable (null: it could dial), and until when. */
  waiting_reason: string | null;
  waiting_until: Date | null;
  /** Seconds since its last wake-up for a slot that its claim has not used yet; null: none. */
  woken_seconds_ago: number | null;
  /** A dial session of the run is waiting for freed slots: it hears them from Postgres itself. */
  in_session: boolean;
}

/** A business's slots and runs as its slot lock's holder reads them, in one statement (see `slotStanding`). */
export interface SlotStanding {
  /** Its active calls, all and those of its runs. */
  active: { total: number; bulk: number };
  /** When its next active call is due for a check with the carrier (null: none active), and whether one is due now. */
  nextCheckAt: Date | null;
  checkDue: boolean;
  /** The run asked about (null: none asked, or gone): its status and where it stands in time by the database's clock. */
  run: { status: RunStatus; beforeStart: boolean; pastStop: boolean } | null;
  /** Every running run's demand, for the fair share and the wake-ups. */
  demands: RunDemandRow[];
  /** The business's row as the same statement read it (null: no such business). */
  business: BusinessRow | null;
  /**
   * The statement's snapshot (`pg_current_snapshot()`, as text): every transaction it saw committed
   * was counted in the slots above (src/calls/slot-waits.ts, `slotsSeen`).
   */
  snapshot: string;
}

/**
 * Everything a claim or a wake-up decides from, read in one statement, under the business's slot
 * lock or (a claim that gates its commit on the slot version read here) without it; a statement's
 * snapshot is taken when it starts, so under the lock it must follow the lock's: the business's row,
 * its active calls and next check, the asking run's status and timing, and each running run's
 * active calls, whether it has queued and dialable jobs, how many it has claimed. Without
 * `quietSeconds` (a wake-up) the next check is not read.
 */
export async function slotStanding(db: Executor, businessId: string, look: { runId: string | null; quietSeconds?: number; defaultWindow: CallingWindow }): Promise<SlotStanding> {
  type Row = Omit<RunDemandRow, 'active' | 'id'> & {
    id: string | null;
    active: string;
    total: string;
    bulk: string;
    next_check_at: Date | null;
    check_due: boolean | null;
    run_status: RunStatus | null;
    before_start: boolean | null;
    past_stop: boolean | null;
    snapshot: string;
    business: (Omit<BusinessRow, 'created_at' | 'last_claim_at' | 'slot_version'> & { created_at: string; last_claim_at: string | null; slot_version: number }) | null;
  };
  const r = await db.query<Row>(
    `WITH business AS (
       SELECT count(*) AS total, count(*) FILTER (WHERE direction = 'bulk') AS bulk, min(${dueAt('$5')}) AS next_check_at,
              (SELECT row_to_json(b) FROM businesses b WHERE b.id = $1) AS business
         FROM calls WHERE business_id = $1 AND ${activeCallSql()}
     ),
     asking AS (SELECT status, coalesce(start_at > now(), false) AS before_start, coalesce(stop_at <= now(), false) AS past_stop FROM bulk_call_runs WHERE id = $4),
     demands AS (
       SELECT r.id, r.workflow_id, r.max_concurrent_calls, r.jobs_claimed, r.waiting_reason, r.waiting_until, extract(epoch FROM now() - r.woken_at)::float8 AS woken_seconds_ago,
              coalesce(r.session_until > now(), false) AS in_session,
              (SELECT count(*) FROM calls c WHERE c.run_id = r.id AND ${activeCallSql('c.status')}) AS active,
              -- The first queued job in order, not EXISTS: a run's done jobs come first on disk, and a
              -- sequential scan for "any queued" read them all (59 ms at 70,000 done) before the index.
              (SELECT j.id FROM outbound_call_jobs j WHERE j.run_id = r.id AND j.status = 'queued' ORDER BY j.position LIMIT 1) IS NOT NULL AS has_queued,
              (coalesce(r.start_at <= now(), true) AND coalesce(r.stop_at > now(), true) AND (
                 SELECT j.id FROM outbound_call_jobs j JOIN leads l ON l.id = j.lead_id
                  WHERE j.run_id = r.id AND j.status = 'queued' AND (j.not_before IS NULL OR j.not_before <= now())
                    AND outdial_in_window(now(), coalesce(l.time_zones, ARRAY[b.time_zone]), coalesce(r.calling_window, b.calling_window, $2::jsonb))
                    AND outdial_in_window(now() + make_interval(secs => $3), coalesce(l.time_zones, ARRAY[b.time_zone]), coalesce(r.calling_window, b.calling_window, $2::jsonb))
                  ORDER BY j.position LIMIT 1) IS NOT NULL) AS has_dialable
         FROM bulk_call_runs r JOIN businesses b ON b.id = r.business_id
        WHERE r.business_id = $1 AND r.status = 'running'
     )
     SELECT x.total, x.bulk, x.next_check_at, x.next_check_at <= now() AS check_due, x.business,
            a.status AS run_status, a.before_start, a.past_stop, pg_current_snapshot()::text AS snapshot, d.*
       FROM business x LEFT JOIN asking a ON true LEFT JOIN demands d ON true`,
    [businessId, look.defaultWindow, MAX_DIAL_DELAY_SECONDS, look.runId, look.quietSeconds ?? null],
  );
  const first = r.rows[0]!;
  const b = first.business;
  return {
    business: b && { ...b, created_at: new Date(b.created_at), last_claim_at: b.last_claim_at === null ? null : new Date(b.last_claim_at), slot_version: String(b.slot_version) },
    active: { total: Number(first.total), bulk: Number(first.bulk) },
    nextCheckAt: look.quietSeconds === undefined ? null : first.next_check_at,
    checkDue: look.quietSeconds !== undefined && (first.check_due ?? false),
    run: first.run_status ? { status: first.run_status, beforeStart: first.before_start ?? false, pastStop: first.past_stop ?? false } : null,
    snapshot: first.snapshot,
    demands: r.rows.flatMap((row) =>
      row.id === null
        ? []
        : [
            {
              id: row.id,
              workflow_id: row.workflow_id,
              max_concurrent_calls: row.max_concurrent_calls,
              jobs_claimed: row.jobs_claimed,
              waiting_reason: row.waiting_reason,
              waiting_until: row.waiting_until,
              woken_seconds_ago: row.woken_seconds_ago,
              in_session: row.in_session,
              active: Number(row.active),
              has_queued: row.has_queued,
              has_dialable: row.has_dialable,
            },
          ],
    ),
  };
}

/**
 * Where a run stands after a dial pass, in one read: its status, its queued and dialing jobs, and
 * when its business's next active call is due for a check with the carrier (null: none active).
 */
export async function runStanding(
  db: Executor,
  runId: string,
  quietSeconds: number,
): Promise<{ status: RunStatus | null; queued: number; dialing: number; nextCheckAt: Date | null }> {
  const r = await db.query<{ status: RunStatus; queued: string; dialing: string; next_check_at: Date | null }>(
    // Each count through the (run, status) index: the run's done jobs, most of a long run, are not read.
    `SELECT r.status,
            (SELECT count(*) FROM outbound_call_jobs WHERE run_id = r.id AND status = 'queued') AS queued,
            (SELECT count(*) FROM outbound_call_jobs WHERE run_id = r.id AND status = 'dialing') AS dialing,
            (SELECT min(${dueAt('$2')}) FROM calls WHERE business_id = r.business_id AND ${activeCallSql()}) AS next_check_at
       FROM bulk_call_runs r
      WHERE r.id = $1`,
    [runId, quietSeconds],
  );
  const row = r.rows[0];
  return row
    ? { status: row.status, queued: Number(row.queued), dialing: Number(row.dialing), nextCheckAt: row.next_check_at }
    : { status: null, queued: 0, dialing: 0, nextCheckAt: null };
}

/**
 * What a pass hands its workflow besides the standing, in one read: how many of the run's calls
 * reached the carrier so far (a job with a call SID), and whether the run is kept open (keepOpen,
 * its stopAt not passed).
 */
export async function runProgress(db: Executor, runId: string): Promise<{ dialed: number; keptOpen: boolean }> {
  const r = await db.query<{ dialed: string; kept_open: boolean }>(
    `SELECT (SELECT count(*) FROM outbound_call_jobs WHERE run_id = r.id AND twilio_call_sid IS NOT NULL) AS dialed,
            ${keptOpenSql('r')} AS kept_open
       FROM bulk_call_runs r WHERE r.id = $1`,
    [runId],
  );
  return { dialed: Number(r.rows[0]?.dialed ?? 0), keptOpen: r.rows[0]?.kept_open ?? false };
}

/**
 * The first moment one of the run's queued leads may be dialed: the earliest opening of a queued
 * lead's window at or after its start and its due time (a retry's, or a lead's callAt), and what
 * every queued lead waits for if it is a due time
 * (`retry` when one of them is a retry, else `call-at`; null: some wait for their window only).
 * `at` is null when none opens in 31 days.
 */
export async function nextDialableAt(db: Executor, runId: string, window: CallingWindow): Promise<{ at: Date | null; dueTime: 'retry' | 'call-at' | null }> {
  const r = await db.query<{ at: Date | null; all_due_later: boolean | null; any_retry: boolean | null }>(
    `WITH run AS (SELECT r.start_at, b.time_zone FROM bulk_call_runs r JOIN businesses b ON b.id = r.business_id WHERE r.id = $1),
     -- One opening per set of zones, from its earliest due time: an opening never comes sooner for a
     -- later start, and a list of callbacks has a due time per lead.
     waiting AS (
       SELECT coalesce(l.time_zones, ARRAY[(SELECT time_zone FROM run)]) AS zones, min(coalesce(j.not_before, now())) AS due,
              bool_and(coalesce(j.not_before > now(), false)) AS due_later, bool_or(j.attempt > 1) AS retry
         FROM outbound_call_jobs j JOIN leads l ON l.id = j.lead_id WHERE j.run_id = $1 AND j.status = 'queued'
        GROUP BY 1
     )
     SELECT min(outdial_next_opening(greatest(now(), coalesce((SELECT start_at FROM run), now()), due), zones, $2::jsonb, make_interval(secs => $3))) AS at,
            bool_and(due_later) AS all_due_later, bool_or(retry) AS any_retry
       FROM waiting`,
    [runId, window, MAX_DIAL_DELAY_SECONDS],
  );
  const row = r.rows[0];
  return { at: row?.at ?? null, dueTime: row?.all_due_later ? (row.any_retry ? 'retry' : 'call-at') : null };
}

/** What the run is waiting for, shown by the API; null reason = it is dialing. */
/**
 * What the run's claim found, in one write (none when nothing changed): why it waits (null: it may
 * dial) and that its wake-up was used (the claim ran, so its free slots are no longer spoken for).
 */
export async function settleRunClaim(db: Executor, runId: string, waiting: { reason: string; until: Date | null } | null): Promise<void> {
  await db.query(
    `UPDATE bulk_call_runs SET waiting_reason = $2, waiting_until = $3, woken_at = NULL
      WHERE id = $1 AND (waiting_reason IS DISTINCT FROM $2 OR waiting_until IS DISTINCT FROM $3 OR woken_at IS NOT NULL)`,
    [runId, waiting?.reason ?? null, waiting?.until ?? null],
  );
}

/** Takes the run's row lock for the rest of the transaction (the order is business, run, jobs: src/db/queries/jobs.ts claimRound). */
export async function lockRun(db: Executor, runId: string): Promise<void> {
  await db.query('SELECT id FROM bulk_call_runs WHERE id = $1 FOR NO KEY UPDATE', [runId]);
}

/** Marks a run woken for a freed slot: until its claim runs, its free slots are spoken for (src/calls/wake-runs.ts). */
export async function markRunWoken(db: Executor, runId: string): Promise<void> {
  await db.query('UPDATE bulk_call_runs SET woken_at = now() WHERE id = $1', [runId]);
}

/**
 * Whether a freed slot of the business may need a wake-up at all: some run that is running (it may
 * use the slot) or canceling (its last call's end finishes it) has no dial session to hear it.
 * Read without the business's lock: a session ends its mark before its last look (src/activities/dial.ts).
 */
export async function hasRunOutOfSession(db: Executor, businessId: string): Promise<boolean> {
  const r = await db.query<{ any: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM bulk_call_runs
                     WHERE business_id = $1 AND status = ANY($2) AND NOT coalesce(session_until > now(), false)) AS any`,
    [businessId, ['running', 'canceling'] satisfies RunStatus[]],
  );
  return r.rows[0]?.any ?? false;
}

/** The run's dial session waits for freed slots for the next `seconds` (src/activities/dial.ts). */
export async function markRunInSession(db: Executor, runId: string, seconds: number): Promise<void> {
  await db.query('UPDATE bulk_call_runs SET session_until = now() + make_interval(secs => $2) WHERE id = $1', [runId, seconds]);
}

/** The run's dial session ended: freed slots wake it by signal again. */
export async function endRunSession(db: Executor, runId: string): Promise<void> {
  await db.query('UPDATE bulk_call_runs SET session_until = NULL WHERE id = $1 AND session_until IS NOT NULL', [runId]);
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

/**
 * Marks the run completed if it may be (`from`), none of its jobs is open and it is not kept open
 * (or its stopAt has passed). The run's row is
 * locked first and the jobs read by a second statement, whose snapshot is taken once the lock is
 * held: leads added by a transaction that held the lock first are seen (a single UPDATE that waited
 * for that lock would recheck the run's row alone, with its jobs as they were before the wait).
 */
export async function completeRunIfDone(client: PoolClient, id: string, change: { from: readonly RunStatus[]; to: RunStatus }): Promise<boolean> {
  await lockRun(client, id);
  const r = await client.query(
    `UPDATE bulk_call_runs r SET status = $3, finished_at = now(), updated_at = now()
      WHERE id = $1 AND status = ANY($2) AND NOT ${keptOpenSql('r')}
        AND NOT EXISTS (SELECT 1 FROM outbound_call_jobs WHERE run_id = $1 AND status = ANY($4))`,
    [id, change.from, change.to, OPEN_JOB_STATUSES],
  );
  return (r.rowCount ?? 0) > 0;
}

/**
 * Serialises additions to one run's list (positions follow on, numbers are merged against those
 * already there) with a lock of its own, not the run's row lock: every claim of the run takes that
 * one, and an upload may take seconds.
 */
export async function lockRunList(client: PoolClient, runId: string): Promise<void> {
  await client.query("SELECT pg_advisory_xact_lock(hashtext('outdial-run-list'), hashtext($1))", [runId]);
}

/**
 * The last step of adding leads, under the run's row lock until commit: accepted only while the run
 * takes leads (it has not begun to end, its stopAt has not passed), so a finish or cancel that
 * committed first refuses them, and one that comes after sees them (`completeRunIfDone`). The stopAt
 * by the clock now, not at the transaction's start (an upload may have begun before it). Null when
 * refused.
 */
export async function acceptAddedLeads(client: PoolClient, runId: string, merged: number): Promise<RunRow | null> {
  const r = await client.query<RunRow>(
    `UPDATE bulk_call_runs SET duplicates_merged = duplicates_merged + $2, updated_at = now()
      WHERE id = $1 AND status = ANY($3) AND coalesce(stop_at > statement_timestamp(), true) RETURNING *`,
    [runId, merged, LEAD_ACCEPTING_RUN_STATUSES],
  );
  return r.rows[0] ?? null;
}

/**
 * A run kept open stops waiting for leads: it completes once those it holds are done. Null when the
 * run was not kept open (or has ended).
 */
export async function closeKeptOpenRun(db: Executor, runId: string): Promise<RunRow | null> {
  const r = await db.query<RunRow>('UPDATE bulk_call_runs SET keep_open = false, updated_at = now() WHERE id = $1 AND keep_open AND status = ANY($2) RETURNING *', [
    runId,
    LIVE_RUN_STATUSES,
  ]);
  return r.rows[0] ?? null;
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

/** Runs of every business, per status (the metrics gauge). */
export async function countRunsByStatus(db: Executor): Promise<Map<RunStatus, number>> {
  const r = await db.query<{ status: RunStatus; n: string }>('SELECT status, count(*) AS n FROM bulk_call_runs GROUP BY status');
  return new Map(r.rows.map((row) => [row.status, Number(row.n)]));
}

/** A page of a business's runs, newest first, after the keyset `before`; `statuses` null = any. */
export async function listRunRows(
  db: Executor,
  businessId: string,
  page: { statuses: readonly RunStatus[] | null; before: TimeKey | null; limit: number },
): Promise<(RunRow & { created_us: string })[]> {
  const r = await db.query<RunRow & { created_us: string }>(
    `SELECT *, ${CREATED_US} AS created_us FROM bulk_call_runs
      WHERE business_id = $1 AND ($2::text[] IS NULL OR status = ANY($2))
        AND ($3::bigint IS NULL OR (created_at, id) < (${FROM_US('$3')}, $4::uuid))
      ORDER BY created_at DESC, id DESC LIMIT $5`,
    [businessId, page.statuses, page.before?.createdUs ?? null, page.before?.id ?? null, page.limit],
  );
  return r.rows;
}

/** How many rows a run's list merged into earlier ones: known once the whole list is read. */
export async function setDuplicatesMerged(db: Executor, runId: string, merged: number): Promise<RunRow> {
  const r = await db.query<RunRow>('UPDATE bulk_call_runs SET duplicates_merged = $2 WHERE id = $1 RETURNING *', [runId, merged]);
  return r.rows[0]!;
}
