import type { Database } from '../../db/client';
import { findBusiness } from '../../db/queries/businesses';
import { answeredByClass, ANSWERED_BY_CLASSES } from '../../db/statuses';
import { answeredByTally, countActiveCalls } from '../../db/queries/calls';
import type { CallingWindow, MachineDetection, RetryPolicy, VoiceApp } from '../../db/settings';
import { jobTallies, type JobTallies } from '../../db/queries/jobs';
import { findRun, type RunRow } from '../../db/queries/runs';
import { JOB_STATUSES, TERMINAL_CALL_STATUSES, type RunStatus } from '../../db/statuses';
import type { Executor } from '../../db/queries/executor';

export interface RunView {
  id: string;
  businessId: string;
  status: RunStatus;
  lastError: string | null;
  workflowId: string;
  /** Rows of the request merged into an earlier row with the same number (dialed once). */
  duplicatesMerged: number;
  /** The run's leads by the status of their latest attempt (`total` = leads). */
  jobs: Record<(typeof JOB_STATUSES)[number] | 'total', number>;
  /** Attempts made or queued, over every lead (a lead retried twice counts 3). */
  attempts: number;
  outcomes: Record<(typeof TERMINAL_CALL_STATUSES)[number], number>;
  /** Answering-machine verdicts of the run's calls (every machine_* counts as machine). */
  answeredBy: Record<(typeof ANSWERED_BY_CLASSES)[number], number>;
  /** The run's own settings; null = the business's at dial time (or none). */
  voiceApp: VoiceApp | null;
  callerId: string | null;
  machineDetection: MachineDetection | null;
  maxConcurrentCalls: number | null;
  /** The run's own window; null = its business's (or the default) at dial time. */
  callingWindow: CallingWindow | null;
  retries: RetryPolicy | null;
  /** The run waits for more leads once its own are done, until closed (or its stopAt). */
  keepOpen: boolean;
  startAt: string | null;
  stopAt: string | null;
  /** Set while no queued lead may be dialed now: why (`start-at`, `calling-window`, `retry`, `call-at`; `leads`: kept open with none left) and when it will dial next. */
  waiting: { reason: string; until: string | null } | null;
  business: { activeCalls: number; maxConcurrentCalls: number | null };
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
}

/** A run's leads by status (every status named, `total` = leads), its attempts and outcomes. */
export function jobCounts(tallies: JobTallies): Pick<RunView, 'jobs' | 'attempts' | 'outcomes'> {
  const jobs = Object.fromEntries(JOB_STATUSES.map((s) => [s, tallies.byStatus.get(s) ?? 0])) as RunView['jobs'];
  jobs.total = [...tallies.byStatus.values()].reduce((a, b) => a + b, 0);
  const outcomes = Object.fromEntries(TERMINAL_CALL_STATUSES.map((s) => [s, tallies.byOutcome.get(s) ?? 0])) as RunView['outcomes'];
  return { jobs, attempts: tallies.attempts, outcomes };
}

/** The same counts read for one run (a run webhook's counts). */
export async function runCounts(db: Executor, runId: string): Promise<Pick<RunView, 'jobs' | 'outcomes' | 'attempts'>> {
  return jobCounts(await jobTallies(db, runId));
}

/** Where a run stands: its status, its jobs by status and outcome, and its business's slots. */
export async function runView(db: Executor, run: RunRow): Promise<RunView> {
  // One after another: `db` may be a single client inside a transaction (pg runs one query at a time).
  const { jobs, outcomes, attempts } = await runCounts(db, run.id);
  const business = await findBusiness(db, run.business_id);
  const activeCalls = await countActiveCalls(db, run.business_id);
  const verdicts = await answeredByTally(db, run.id);
  const answeredBy = Object.fromEntries(ANSWERED_BY_CLASSES.map((c) => [c, 0])) as RunView['answeredBy'];
  for (const [value, n] of verdicts) answeredBy[answeredByClass(value)] += n;
  return {
    id: run.id,
    businessId: run.business_id,
    status: run.status,
    lastError: run.last_error,
    workflowId: run.workflow_id,
    duplicatesMerged: run.duplicates_merged,
    jobs,
    attempts,
    outcomes,
    answeredBy,
    voiceApp: run.voice_app,
    callerId: run.caller_id,
    machineDetection: run.machine_detection,
    maxConcurrentCalls: run.max_concurrent_calls,
    callingWindow: run.calling_window,
    retries: run.retry_policy,
    keepOpen: run.keep_open,
    startAt: run.start_at?.toISOString() ?? null,
    stopAt: run.stop_at?.toISOString() ?? null,
    waiting: waitingOf(run, jobs),
    business: { activeCalls, maxConcurrentCalls: business?.max_concurrent_calls ?? null },
    createdAt: run.created_at.toISOString(),
    startedAt: run.started_at?.toISOString() ?? null,
    finishedAt: run.finished_at?.toISOString() ?? null,
  };
}

function waitingOf(run: RunRow, jobs: RunView['jobs']): RunView['waiting'] {
  if (run.status !== 'running') return null;
  if (run.keep_open && jobs.queued === 0 && jobs.dialing === 0 && (run.stop_at === null || run.stop_at.getTime() > Date.now())) return { reason: 'leads', until: run.stop_at?.toISOString() ?? null };
  return run.waiting_reason ? { reason: run.waiting_reason, until: run.waiting_until?.toISOString() ?? null } : null;
}

export async function getRun(database: Database, runId: string): Promise<RunView | null> {
  const run = await findRun(database.pool, runId);
  return run ? runView(database.pool, run) : null;
}
