import {
  allHandlersFinished,
  CancellationScope,
  condition,
  isCancellation,
  continueAsNew,
  log,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setCurrentDetails,
  setHandler,
  sleep,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { createActivities } from '../activities';
import { BUSINESS_ID_SEARCH_ATTRIBUTE, RUN_ID_SEARCH_ATTRIBUTE } from '../search-attributes';
import { FailureType, NON_RETRYABLE_FAILURES, nonRetryable } from './failures';
import {
  allowsTransition,
  cancelRunUpdate,
  RUN_TRANSITIONS,
  DEFAULT_CONTINUE_AS_NEW_LIMITS,
  pauseRunUpdate,
  progressQuery,
  resumeRunUpdate,
  slotFreedSignal,
  type BulkCallRunInput,
  type BulkCallRunResult,
  type CarriedRunState,
  type DialPassSummary,
  type RunPhase,
} from './messages';
import { dialPassActivitySummary, runDetails, waitTimerSummary } from './timeline';

type Activities = ReturnType<typeof createActivities>;

// Retried with no cap on attempts: a Postgres or carrier outage pauses a run, never loses it. Backing off to
// 5 s at most (the heartbeat timeout, what a dead worker costs anyway): at 30 s, a run whose passes
// kept failing through a 45 s outage or a storm of worker kills sat idle up to 30 s after it ended.
// A retry is safe: claims are atomic and count the earlier attempt's reservations.
const RETRY_UNCAPPED = { initialInterval: '1 second', maximumInterval: '5 seconds', nonRetryableErrorTypes: NON_RETRYABLE_FAILURES };

const { startRun } = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  summary: 'start the run: mark it running, find its public host',
  retry: RETRY_UNCAPPED,
});

const { transitionRun, finishRun } = proxyActivities<Activities>({
  startToCloseTimeout: '45 seconds',
  retry: RETRY_UNCAPPED,
});
// A pass heartbeats every second: a worker that dies mid-pass holds the run up for the heartbeat
// timeout, not the 45 s a slow carrier may take.
const { dialAvailableSlots } = proxyActivities<Activities>({
  startToCloseTimeout: '45 seconds',
  heartbeatTimeout: '5 seconds',
  retry: RETRY_UNCAPPED,
});

// The same pass as a local activity: run by the worker inside the workflow task that woke the run,
// so a pass is one workflow task and no activity task (a pass used to be two workflow tasks and an
// activity task to schedule, poll, start and complete). A worker that dies mid-pass holds the run up
// for the workflow task timeout, which the run sets to the same seconds as the heartbeat timeout.
const { dialAvailableSlots: dialAvailableSlotsLocally } = proxyLocalActivities<Activities>({
  startToCloseTimeout: '45 seconds',
  retry: RETRY_UNCAPPED,
});

/** When the carrier shed load or could not be reached, the next dial pass comes after this, not the full fallback. */
const NOT_SENT_RETRY_MS = 2_000;

const MIN_WAIT_MS = 100;
/** A check due now (or overdue: more due than one pass takes) is not re-polled faster than this. */
const MIN_CHECK_WAIT_MS = 1_000;

const msUntil = (iso: string) => Math.max(0, Date.parse(iso) - Date.now());

/**
 * Patch marker: a run woken before its timer fired keeps that timer for the next wait when it fires
 * no later than the next wait needs (a timer is a Temporal action; a woken run used to start one per
 * pass). Histories recorded before it replay on the old path (a new timer per wait).
 */
export const REUSE_WAIT_TIMER_PATCH = 'reuse-wait-timer';

/** A durable timer that outlives one wait: cancelled only when a wait needs an earlier one. */
interface WaitTimer {
  deadline: number;
  scope: CancellationScope;
  fired: Promise<void>;
  done: boolean;
}

function startWaitTimer(waitMs: number, summary: string): WaitTimer {
  const scope = new CancellationScope();
  const timer: WaitTimer = { deadline: Date.now() + waitMs, scope, fired: Promise.resolve(), done: false };
  timer.fired = scope
    .run(() => sleep(waitMs, { summary }))
    .then(
      () => {
        timer.done = true;
      },
      (err: unknown) => {
        timer.done = true;
        if (!isCancellation(err)) throw err;
      },
    );
  return timer;
}

/**
 * How long to sleep after a pass (signals and updates still wake the run early). Nothing dialable
 * (a calling window, a startAt): one timer until the first lead may be dialed, or the stopAt if
 * sooner; no passes in between. Otherwise the fallback for a lost wake-up signal, or a short retry
 * when the carrier took nothing, and never past the stopAt. Either way never past the business's
 * next call check with the carrier.
 */
function nextWaitMs(pass: DialPassSummary, fallbackMs: number): number {
  // A stopAt already past has done its work (the pass expired what was queued): it bounds nothing.
  const untilStop = pass.stopAt && msUntil(pass.stopAt) > 0 ? msUntil(pass.stopAt) : Number.POSITIVE_INFINITY;
  // The next pass checks the business's calls that are due: one due within seconds (a dial whose
  // outcome is unknown) must not wait for the fallback timer.
  const untilCheck = pass.nextCheckAt ? Math.max(MIN_CHECK_WAIT_MS, msUntil(pass.nextCheckAt)) : Number.POSITIVE_INFINITY;
  const wait = pass.waiting
    ? Math.min(pass.waiting.until ? msUntil(pass.waiting.until) : fallbackMs, untilStop, untilCheck)
    : Math.min(pass.notSent > 0 ? NOT_SENT_RETRY_MS : fallbackMs, untilStop, untilCheck);
  // Never a zero wait: clocks of worker, server and database differ by milliseconds, and a pass
  // that found nothing must not be repeated at once.
  return Math.max(MIN_WAIT_MS, wait);
}

/**
 * One bulk call run: dial as many queued jobs as the business has free slots, wait to be woken
 * (a call of the business ended) or for the fallback timer, and again, until every job is terminal.
 * All counting and claiming happens in Postgres inside the activities; this loop only decides when.
 */
export async function bulkCallRun(input: BulkCallRunInput): Promise<BulkCallRunResult> {
  const limits = input.limits ?? DEFAULT_CONTINUE_AS_NEW_LIMITS;
  const carried: CarriedRunState | undefined = input.carried;
  let phase: RunPhase = carried?.phase ?? 'running';
  let publicBaseUrl: string | null = carried?.publicBaseUrl ?? null;
  let dialedTotal = carried?.dialedTotal ?? 0;
  const executions = (carried?.executions ?? 0) + 1;
  let finished = false;
  /** Set once the run has begun to mark itself finished (before `finished`): from then on it takes no pause, resume or cancel. */
  let finishing = false;
  let woken = false;
  let wakeSignals = 0;
  let passes = 0;
  let lastPass: DialPassSummary | null = null;
  let waitTimer: WaitTimer | null = null;

  /** Sleeps until woken, or `waitMs` at the latest (a pending timer that fires no later is kept, not replaced). */
  async function waitForWakeUp(waitMs: number, summary: string): Promise<void> {
    if (!patched(REUSE_WAIT_TIMER_PATCH)) {
      await condition(() => woken || shouldContinueAsNew(), waitMs, { summary });
      return;
    }
    if (!waitTimer || waitTimer.done || waitTimer.deadline > Date.now() + waitMs) {
      if (waitTimer && !waitTimer.done) waitTimer.scope.cancel();
      waitTimer = startWaitTimer(waitMs, summary);
    }
    const timer = waitTimer;
    await Promise.race([condition(() => woken || shouldContinueAsNew()), timer.fired]);
  }

  setHandler(slotFreedSignal, () => {
    woken = true;
    wakeSignals += 1;
  });
  setHandler(progressQuery, () => ({
    runId: input.runId,
    phase: finished ? 'finished' : publicBaseUrl === null ? 'starting' : phase,
    publicBaseUrl,
    dialedTotal,
    lastPass,
    executions,
    wakeSignalsThisExecution: wakeSignals,
    passesThisExecution: passes,
  }));

  // Pause, resume and cancel: validated against the run's state machine, then applied in Postgres.
  for (const [update, action] of [
    [pauseRunUpdate, 'pause'],
    [resumeRunUpdate, 'resume'],
    [cancelRunUpdate, 'cancel'],
  ] as const) {
    setHandler(
      update,
      async () => {
        const result = await transitionRun.executeWithOptions({ summary: `${action} the run (operator request)` }, [{ runId: input.runId, action }]);
        phase = RUN_TRANSITIONS[action].to;
        woken = true;
        return result;
      },
      {
        validator: () => {
          if (finishing || !allowsTransition(phase, action)) {
            throw nonRetryable(FailureType.InvalidTransition, `cannot ${action} a run that is ${finishing ? 'finishing' : phase}`);
          }
        },
      },
    );
  }

  const shouldContinueAsNew = () =>
    workflowInfo().continueAsNewSuggested ||
    wakeSignals >= limits.maxSignalsPerExecution ||
    passes >= limits.maxIterationsPerExecution;

  if (publicBaseUrl === null) {
    upsertSearchAttributes([
      { key: BUSINESS_ID_SEARCH_ATTRIBUTE, value: input.businessId },
      { key: RUN_ID_SEARCH_ATTRIBUTE, value: input.runId },
    ]);
    // Fails the workflow (non-retryable) with the run marked failed when no public host is configured.
    publicBaseUrl = (await startRun({ runId: input.runId })).publicBaseUrl;
  }
  const baseUrl = publicBaseUrl;

  while (!shouldContinueAsNew()) {
    if (phase === 'paused') {
      setCurrentDetails(`paused; dialed ${dialedTotal} so far; waiting for resume or cancel`);
      await condition(() => phase !== 'paused' || shouldContinueAsNew());
      continue;
    }
    woken = false;
    const summary = dialPassActivitySummary(lastPass);
    const passInput = [{ runId: input.runId, publicBaseUrl: baseUrl }] as const;
    const pass = input.dialPass?.local
      ? await dialAvailableSlotsLocally.executeWithOptions({ summary, startToCloseTimeout: input.dialPass.timeoutSeconds * 1000 }, [...passInput])
      : await dialAvailableSlots.executeWithOptions(
          {
            summary,
            ...(input.dialPass ? { startToCloseTimeout: input.dialPass.timeoutSeconds * 1000, heartbeatTimeout: input.dialPass.heartbeatSeconds * 1000 } : {}),
          },
          [...passInput],
        );
    passes += 1;
    lastPass = pass;
    // Postgres's count when the pass reports it: a local pass whose workflow task was lost runs again
    // and dials nothing the second time (its claims hold), so a sum of passes could miss calls.
    dialedTotal = pass.dialedTotal ?? dialedTotal + pass.dialed;
    if (pass.runStatus === 'paused' && phase === 'running') phase = 'paused';

    const nothingLeft = pass.queued === 0 && pass.dialing === 0;
    // A run kept open with nothing left is not done: it sleeps until leads come (or a close, its stopAt).
    const keptOpen = pass.keptOpen === true && phase !== 'canceling';
    if (nothingLeft && phase !== 'paused' && !keptOpen) {
      // A cancel accepted while the pass ran must decide the outcome: let its handler finish first.
      await condition(allHandlersFinished);
      // From here the outcome is decided: a cancel accepted now could commit in Postgres before
      // finishRun and leave the run canceling there, while its workflow completes.
      finishing = true;
      const status = phase === 'canceling' ? 'canceled' : 'completed';
      const finish = await finishRun.executeWithOptions({ summary: `finish the run: ${status}, ${dialedTotal} dialed` }, [{ runId: input.runId, status }]);
      // Leads were added since the pass (runs recorded before that could happen answer nothing here).
      if (finish?.finished === false) {
        finishing = false;
        continue;
      }
      setCurrentDetails(`${status}; dialed ${dialedTotal}`);
      finished = true;
      log.info('run finished', { runId: input.runId, status, dialed: dialedTotal });
      return { status, dialed: dialedTotal, executions };
    }
    if (woken || pass.again) continue;
    // A run kept open with nothing left is woken by the leads added to it; its own re-check is rarer.
    const fallbackSeconds = keptOpen && nothingLeft ? (input.keptOpenWaitSeconds ?? input.wakeFallbackSeconds) : input.wakeFallbackSeconds;
    const waitMs = nextWaitMs(pass, fallbackSeconds * 1000);
    setCurrentDetails(runDetails(dialedTotal, pass, waitMs));
    await waitForWakeUp(waitMs, waitTimerSummary(pass, waitMs));
  }

  await condition(allHandlersFinished);
  return await continueAsNew<typeof bulkCallRun>({
    ...input,
    carried: { publicBaseUrl: baseUrl, phase, dialedTotal, executions },
  });
}
