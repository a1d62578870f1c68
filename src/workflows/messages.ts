import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { RunStatus } from '../db/statuses';

/**
 * Every signal, query and update of BulkCallRun, shared by the workflow, the API and the activities.
 * Signals are wake-ups, not data: the status of record is in Postgres.
 */

export const BULK_CALL_RUN_WORKFLOW = 'bulkCallRun';

export function bulkCallRunWorkflowId(runId: string): string {
  return `bulk-call-run-${runId}`;
}

export interface ContinueAsNewLimits {
  /** Continue-as-new after this many wake-up signals: Temporal caps an execution at 10,000. */
  maxSignalsPerExecution: number;
  /** Continue-as-new after this many dial passes, to keep history small whatever the server suggests. */
  maxIterationsPerExecution: number;
}

export const DEFAULT_CONTINUE_AS_NEW_LIMITS: ContinueAsNewLimits = {
  maxSignalsPerExecution: 2_000,
  maxIterationsPerExecution: 400,
};

export type RunPhase = 'running' | 'paused' | 'canceling';

/** What one execution hands the next on continue-as-new: small, whatever the run's size. */
export interface CarriedRunState {
  publicBaseUrl: string;
  phase: RunPhase;
  dialedTotal: number;
  executions: number;
}

export interface BulkCallRunInput {
  runId: string;
  businessId: string;
  /** How long to wait for a wake-up signal before re-checking on its own (a lost signal costs at most this). */
  wakeFallbackSeconds: number;
  /** A run kept open with nothing left waits this long before it re-checks on its own (RUN_KEPT_OPEN_WAIT_SECONDS; absent in runs started before: the fallback). */
  keptOpenWaitSeconds?: number;
  /**
   * The dial pass's timeouts (DIAL_PASS_TIMEOUT_SECONDS, DIAL_PASS_HEARTBEAT_SECONDS); absent in runs
   * started before they were settings: 45 s and 5 s.
   */
  dialPass?: {
    timeoutSeconds: number;
    heartbeatSeconds: number;
    /** Passes run as local activities (DIAL_PASS_LOCAL_ACTIVITY); absent in runs started before: regular activities. */
    local?: boolean;
  };
  limits?: ContinueAsNewLimits;
  carried?: CarriedRunState;
}

export interface BulkCallRunResult {
  status: 'completed' | 'canceled';
  dialed: number;
  /** Executions the run took, counting each continue-as-new. */
  executions: number;
}

export interface RunProgress {
  runId: string;
  phase: RunPhase | 'starting' | 'finished';
  publicBaseUrl: string | null;
  dialedTotal: number;
  lastPass: DialPassSummary | null;
  /** Executions so far, counting continue-as-new. */
  executions: number;
  wakeSignalsThisExecution: number;
  passesThisExecution: number;
}

export interface DialPassSummary {
  runStatus: string | null;
  dialed: number;
  rejected: number;
  /** Calls the carrier certainly did not take (429, unreachable): their jobs went back to the queue. */
  notSent: number;
  /** Jobs ended `skipped_dnc` in this pass (absent in passes recorded before do-not-call lists). */
  skippedDoNotCall?: number;
  /** When the pass got no slot: the rule that held it back (business-limit, reserved-direct-slots, run-cap, fair-share). */
  heldBy?: string | null;
  /** Set when no queued lead may be dialed now (calling window, startAt): why, and the moment one may. */
  waiting?: {
    reason: string;
    until: string | null;
    /** `until` in the business's zone for operators, e.g. `09:00 America/Chicago` (absent in passes recorded before it). */
    untilLocal?: string | null;
  } | null;
  /** The run's stopAt, if any: the workflow wakes for it. */
  stopAt?: string | null;
  unknown: number;
  /** When the next of the business's active calls is due for a check with the carrier (absent in passes recorded before it). */
  nextCheckAt?: string | null;
  queued: number;
  dialing: number;
  /** The pass ended its dial session at its deadline (or its worker's shutdown) with leads still to dial: the next starts at once. */
  again?: boolean;
  /** The run is kept open (keepOpen, its stopAt not passed): with nothing left it waits for leads, not completes (absent in passes recorded before it). */
  keptOpen?: boolean;
  /** Calls of the run that reached the carrier, so far (absent in passes recorded before it was reported). */
  dialedTotal?: number;
  active: number;
  limit: number;
}

/**
 * The run's state machine, the one definition: the workflow's update validators check it against the
 * workflow's phase, and the activities apply it to Postgres (`WHERE status = ANY(from)`). `pending`
 * is in `from` where a change may come before the workflow's first activity has marked the run
 * running (the workflow's phase is already `running` then).
 */
export const RUN_TRANSITIONS = {
  start: { from: ['pending'], to: 'running' },
  pause: { from: ['pending', 'running'], to: 'paused' },
  resume: { from: ['paused'], to: 'running' },
  cancel: { from: ['pending', 'running', 'paused'], to: 'canceling' },
  /** Every job is terminal. From `paused` too: a pause that came after the last dial leaves nothing to wait for. */
  complete: { from: ['running', 'paused'], to: 'completed' },
  endCanceled: { from: ['canceling'], to: 'canceled' },
  /** The run cannot go on (no public host, its workflow could not be started). */
  fail: { from: ['pending', 'running', 'paused', 'canceling'], to: 'failed' },
  /** The carrier refused the account or caller ID: every lead would fail alike, so the run waits for an operator. */
  pauseForCarrier: { from: ['running'], to: 'paused' },
} as const satisfies Record<string, { from: readonly RunStatus[]; to: RunStatus }>;
export type RunAction = keyof typeof RUN_TRANSITIONS;

/** What an operator may ask of a run (the API's pause, resume and cancel). */
export type RunTransition = 'pause' | 'resume' | 'cancel';

export function allowsTransition(from: RunStatus, action: RunAction): boolean {
  return (RUN_TRANSITIONS[action].from as readonly RunStatus[]).includes(from);
}

export interface RunTransitionResult {
  runId: string;
  status: string;
}

/** A call of the business ended somewhere (this run, another run, a direct call): a slot may be free. */
export const slotFreedSignal = defineSignal('slotFreed');
export const progressQuery = defineQuery<RunProgress>('progress');
export const pauseRunUpdate = defineUpdate<RunTransitionResult>('pauseRun');
export const resumeRunUpdate = defineUpdate<RunTransitionResult>('resumeRun');
/** Ends queued jobs as canceled; calls already live finish on their own. */
export const cancelRunUpdate = defineUpdate<RunTransitionResult>('cancelRun');
