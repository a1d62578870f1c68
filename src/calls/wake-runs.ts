import { isGrpcServiceError, WorkflowNotFoundError, type Client } from '@temporalio/client';
import { spareRunSlots, wakeCandidates } from '../claim/bulk';
import { notifySlots } from '../db/queries/businesses';
import { lockBusinessRunSlots } from '../claim/slots';
import type { PoolClient } from 'pg';
import { inTransaction, type Database } from '../db/client';
import { findRun, hasRunOutOfSession, markRunWoken, type RunDemandRow } from '../db/queries/runs';
import type { Logger } from '../logger';
import { slotFreedSignal } from '../workflows/messages';

/** What freed the slots, so only the runs that can use them are woken. */
export interface WakeRequest {
  /** How many slots were freed; at most this many runs are woken for them. Default: every spare slot of the business. */
  slots?: number;
  /** The run whose call ended: woken whatever the slots when it has nothing it may dial now (it may be done, or a retry changed its next wake-up). */
  endedRun?: { runId: string; retryQueued: boolean } | null;
  /**
   * The run whose list changed (leads added, closed): woken whatever the slots when it has nothing
   * it may dial now, as for a queued retry (its next wake-up may be sooner, or it may be done).
   */
  changedRun?: string;
  /** Never this run: its own dial pass hands on the slots it could not use. */
  except?: string;
  /**
   * Calls of the business are due for a check with the carrier now, and a check may free their
   * slots: at least one running run is woken, slots free or not, so its dial pass checks them.
   */
  checkDue?: boolean;
}

export type WakeRuns = (businessId: string, request?: WakeRequest) => Promise<number>;

/** The wake-up for one call that ended: its slot, and its run when that may now be done. */
export function endedCallWake(applied: { runId: string | null; retryQueued: boolean }): WakeRequest {
  return { slots: 1, endedRun: applied.runId ? { runId: applied.runId, retryQueued: applied.retryQueued } : null };
}

const SIGNAL_DEADLINE_MS = 3_000;

/** A wake-up not yet used by the run's claim this long after it was sent no longer holds the run's slots (WAKE_PENDING_SECONDS). */
export const DEFAULT_WAKE_PENDING_SECONDS = 2;

/**
 * The run whose call ended, when it may dial nothing now, needs its own wake-up if its next step
 * changed: a retry was queued (a new due time), its queued leads are not dialable and it does not
 * know yet (its claim last found some: it sleeps on its fallback, not on their opening), or its
 * last call ended (it may be done).
 */
function endedRunNeedsWake(row: RunDemandRow, ended: { retryQueued: boolean }): boolean {
  if (row.has_dialable) return false;
  return ended.retryQueued || (row.has_queued ? row.waiting_reason === null : row.active === 0);
}

export interface WakeRetryOptions {
  /** Workflow IDs kept for a retry at most; more are dropped (the runs' fallback timers cover them). */
  maxPending: number;
  /** The longest wait between two retries (they back off from 100 ms to this). */
  maxIntervalMs: number;
}

export const DEFAULT_WAKE_RETRY: WakeRetryOptions = { maxPending: 10_000, maxIntervalMs: 1_000 };

/** One wake-up signal, given up on at `deadline`. */
function sendWakeUp(temporal: Client, workflowId: string, deadline: number): Promise<void> {
  return temporal.withDeadline(deadline, () => temporal.workflow.getHandle(workflowId).signal(slotFreedSignal));
}

/** gRPC's DEADLINE_EXCEEDED and UNAVAILABLE (@grpc/grpc-js is not a direct dependency). */
const UNANSWERED_CODES = new Set([4, 14]);

/** Temporal gave no answer (down, restarting, unreachable): the wake-up is worth sending again. */
function unanswered(err: unknown): boolean {
  for (let e: unknown = err; e instanceof Error; e = (e as { cause?: unknown }).cause) {
    if (isGrpcServiceError(e) && UNANSWERED_CODES.has(e.code)) return true;
  }
  return false;
}

/**
 * Wake-ups Temporal did not answer, kept in memory and sent again with backoff until it does, so a
 * run asleep through a Temporal restart is woken within `maxIntervalMs` of Temporal being back, not
 * at its fallback timer. Coalesced per business (a run is signalled once however many wake-ups it
 * missed) and bounded; a wake-up is a hint, so losing these on a crash costs only the fallback wait.
 */
export class WakeRetryQueue {
  private readonly pending = new Map<string, Set<string>>();
  private size = 0;
  private timer: NodeJS.Timeout | null = null;
  private delayMs = 100;
  private sending: Promise<void> | null = null;
  private stopped = false;

  constructor(
    private readonly deps: { temporal: Client; logger: Logger },
    private readonly options: WakeRetryOptions = DEFAULT_WAKE_RETRY,
  ) {}

  /** Workflow IDs waiting for a retry. */
  get pendingCount(): number {
    return this.size;
  }

  add(businessId: string, workflowIds: readonly string[]): void {
    if (this.stopped) return;
    let ids = this.pending.get(businessId);
    for (const id of workflowIds) {
      if (ids?.has(id)) continue;
      if (this.size >= this.options.maxPending) {
        this.deps.logger.warn({ businessId, workflowId: id, maxPending: this.options.maxPending }, 'wake-up retry queue full: the run waits for its fallback timer');
        continue;
      }
      if (!ids) this.pending.set(businessId, (ids = new Set()));
      ids.add(id);
      this.size += 1;
    }
    this.schedule();
  }

  /** Stops retrying and waits for a retry in flight (a process shutting down). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.sending;
  }

  private schedule(): void {
    if (this.timer || this.sending || this.size === 0 || this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.sending = this.sendAll().finally(() => {
        this.sending = null;
        this.schedule();
      });
    }, this.delayMs);
    this.timer.unref();
  }

  private async sendAll(): Promise<void> {
    const entries = [...this.pending].flatMap(([businessId, ids]) => [...ids].map((id) => ({ businessId, id })));
    const deadline = Date.now() + this.options.maxIntervalMs;
    const results = await Promise.allSettled(entries.map(({ id }) => sendWakeUp(this.deps.temporal, id, deadline)));
    let answered = false;
    results.forEach((r, i) => {
      const { businessId, id } = entries[i]!;
      if (r.status === 'rejected' && unanswered(r.reason)) return;
      answered = true;
      if (r.status === 'rejected' && !(r.reason instanceof WorkflowNotFoundError)) {
        this.deps.logger.warn({ workflowId: id, err: String(r.reason) }, 'wake-up retry refused by Temporal; dropped');
      }
      const ids = this.pending.get(businessId);
      if (ids?.delete(id)) this.size -= 1;
      if (ids?.size === 0) this.pending.delete(businessId);
    });
    // Back off while Temporal stays silent; once it answers, whatever is left goes out quickly.
    this.delayMs = answered ? 100 : Math.min(this.options.maxIntervalMs, this.delayMs * 2);
  }
}

/**
 * A freed slot wakes only the runs that can use it (runsToSignal), plus the run whose call ended when
 * that may finish it. Signals go by workflow ID only, so they reach the newest execution after
 * continue-as-new. A signal Temporal did not answer goes to the retry queue; the run's fallback
 * timer covers whatever is still lost.
 */
export function createWakeRuns(deps: { database: Database; temporal: Client; logger: Logger; retries?: WakeRetryQueue; pendingSeconds?: number }): WakeRuns {
  const pendingSeconds = deps.pendingSeconds ?? DEFAULT_WAKE_PENDING_SECONDS;
  // One wake-up of a business at a time in this process: those asked for meanwhile are merged into
  // the next one. Under load each would otherwise hold a connection while it queues on the
  // business's lock behind the others, and the callbacks behind them wait for a connection.
  const next = new Map<string, { request: MergedWake; waiters: { resolve(n: number): void; reject(err: unknown): void }[] }>();
  const running = new Set<string>();

  async function drain(businessId: string): Promise<void> {
    running.add(businessId);
    try {
      for (let wake = next.get(businessId); wake; wake = next.get(businessId)) {
        next.delete(businessId);
        try {
          // Calls due for a check: the sessions pass at once too (each pass checks them first).
          if (wake.request.checkDue) await notifySlots(deps.database.pool, businessId);
          // When every run that could want the slot is in a dial session, it hears it from Postgres:
          // no transaction on the business's lock, the one its sessions' claims queue on.
          const anyToWake = wake.request.checkDue || (await hasRunOutOfSession(deps.database.pool, businessId));
          const workflowIds = anyToWake ? await inTransaction(deps.database, (client) => runsToSignal(client, businessId, wake!.request, pendingSeconds)) : [];
          const signalled = await signalRuns(deps, businessId, workflowIds);
          for (const w of wake.waiters) w.resolve(signalled);
        } catch (err) {
          for (const w of wake.waiters) w.reject(err);
        }
      }
    } finally {
      running.delete(businessId);
    }
  }

  return (businessId, request = {}) =>
    new Promise<number>((resolve, reject) => {
      const queued = next.get(businessId);
      if (queued) {
        queued.request = mergeWakes(queued.request, request);
        queued.waiters.push({ resolve, reject });
      } else next.set(businessId, { request: mergeWakes(null, request), waiters: [{ resolve, reject }] });
      if (!running.has(businessId)) void drain(businessId);
    });
}

/** Wake-ups of one business merged: the slots of all, every run whose call ended. */
interface MergedWake {
  slots?: number;
  endedRuns: { runId: string; retryQueued: boolean }[];
  except?: string;
  checkDue: boolean;
}

function mergeWakes(into: MergedWake | null, request: WakeRequest): MergedWake {
  const ended = request.endedRun ? [request.endedRun] : [];
  // A changed list needs what a queued retry needs: a pass that finds its next step.
  if (request.changedRun) ended.push({ runId: request.changedRun, retryQueued: true });
  if (!into) {
    return { ...(request.slots === undefined ? {} : { slots: request.slots }), endedRuns: ended, ...(request.except ? { except: request.except } : {}), checkDue: request.checkDue ?? false };
  }
  // No slot count on either side means every spare slot; `except` holds only when both name the same run.
  const slots = into.slots === undefined || request.slots === undefined ? undefined : into.slots + request.slots;
  const except = into.except !== undefined && into.except === request.except ? into.except : undefined;
  // One entry per run; a retry queued by any of its calls counts.
  const endedRuns = [...into.endedRuns];
  for (const e of ended) {
    const same = endedRuns.findIndex((r) => r.runId === e.runId);
    if (same < 0) endedRuns.push(e);
    else endedRuns[same] = { runId: e.runId, retryQueued: endedRuns[same]!.retryQueued || e.retryQueued };
  }
  return { ...(slots === undefined ? {} : { slots }), endedRuns, ...(except ? { except } : {}), checkDue: into.checkDue || (request.checkDue ?? false) };
}

/**
 * Chosen under the business's slot lock, the one the claim holds: a claim in flight commits first,
 * so its slots and its used wake-up are seen here (without it a callback could take a run as woken
 * whose claim, already counting, missed this slot); and callbacks of one business decide in turn.
 */
async function runsToSignal(client: PoolClient, businessId: string, request: MergedWake, pendingSeconds: number): Promise<string[]> {
  // It writes only hints (woken_at): its commit need not wait for the WAL flush while it holds the
  // business's lock, the one every claim of the business queues on. A hint lost in a crash costs a
  // run its fallback wait, never a dial.
  await client.query('SET LOCAL synchronous_commit = off');
  const locked = await lockBusinessRunSlots(client, businessId, { runId: null });
  if (!locked) return [];
  const business = locked.slots;
  const demands = locked.standing.demands;
  // A run woken earlier whose claim has not run yet keeps the slots it was woken for; of the rest,
  // each candidate in turn takes as many of the freed slots as it has free, so no more runs than
  // slots are woken.
  const workflowIds = new Set<string>();
  // A run in a dial session is pending too: it hears the freed slot from Postgres and claims it itself.
  const isPending = (run: RunDemandRow) => run.in_session || (run.woken_seconds_ago !== null && run.woken_seconds_ago < pendingSeconds);
  const candidates = wakeCandidates(business, demands, request.except);
  let unclaimed = spareRunSlots(business) - candidates.filter((c) => isPending(c.run)).reduce((sum, c) => sum + c.free, 0);
  let ours = request.slots ?? Number.POSITIVE_INFINITY;
  for (const { run, free } of candidates.filter((c) => !isPending(c.run))) {
    if (unclaimed <= 0 || ours <= 0) break;
    unclaimed -= free;
    ours -= free;
    await markRunWoken(client, run.id);
    workflowIds.add(run.workflow_id);
  }
  if (request.checkDue && workflowIds.size === 0) {
    const checker = demands.find((d) => d.has_dialable) ?? demands[0];
    if (checker) workflowIds.add(checker.workflow_id);
  }
  for (const ended of request.endedRuns) {
    if (ended.runId === request.except) continue;
    const row = demands.find((d) => d.id === ended.runId);
    if (row) {
      if (endedRunNeedsWake(row, ended)) workflowIds.add(row.workflow_id);
    } else {
      // Not running: a canceling run waits for its calls to end, and the last one's end must wake it to finish.
      const run = await findRun(client, ended.runId);
      if (run?.status === 'canceling') workflowIds.add(run.workflow_id);
    }
  }
  return [...workflowIds];
}

async function signalRuns(deps: { temporal: Client; logger: Logger; retries?: WakeRetryQueue }, businessId: string, workflowIds: string[]): Promise<number> {
  if (workflowIds.length === 0) return 0;
  // Bounded: while Temporal is unreachable a status callback must not hang on retries; the retry
  // queue takes over what Temporal did not answer.
  const deadline = Date.now() + SIGNAL_DEADLINE_MS;
  const results = await Promise.allSettled(workflowIds.map((id) => sendWakeUp(deps.temporal, id, deadline)));
  const retry: string[] = [];
  results.forEach((r, i) => {
    if (r.status === 'rejected') {
      deps.logger.debug({ workflowId: workflowIds[i], err: String(r.reason) }, 'wake-up signal not delivered');
      if (unanswered(r.reason)) retry.push(workflowIds[i]!);
    }
  });
  if (retry.length > 0) deps.retries?.add(businessId, retry);
  return results.filter((r) => r.status === 'fulfilled').length;
}
