import { randomUUID } from 'node:crypto';
import { DateTime } from 'luxon';
import { Context } from '@temporalio/activity';
import type { SlotWaits } from '../calls/slot-waits';
import type { WakeRuns } from '../calls/wake-runs';
import { checkDelaySeconds, quietCallCheckSeconds, type CheckSchedule } from '../calls/check-schedule';
import { placeReservedCalls, type DialOutcome } from '../calls/place-call';
import { reconcileStaleCalls } from '../calls/reconcile';
import type { Config } from '../config';
import { LIVE_RUN_STATUSES } from '../db/statuses';
import type { Database } from '../db/client';
import { endQueuedJobs } from '../db/queries/jobs';
import { changeRunStatus, endRunSession, findRun, markRunInSession, runProgress, runStanding, type RunRow } from '../db/queries/runs';
import type { Logger } from '../logger';
import { reserveAndClaimJobs, spareRunSlots } from '../claim/bulk';
import { pacingOf } from '../claim/slots';
import type { TelephonyClient } from '../telephony/client';
import { FailureType, nonRetryable } from '../workflows/failures';
import { withHeartbeat } from './heartbeat';
import { RUN_TRANSITIONS, type DialPassSummary } from '../workflows/messages';

export interface DialDeps {
  database: Database;
  telephony: TelephonyClient;
  logger: Logger;
  wakeRuns: WakeRuns;
  config: CheckSchedule & Pick<Config, 'twilio' | 'dialPass' | 'queuedJobsEndBatch'>;
  /** Freed slots heard from Postgres (a worker's); without it a pass dials once and returns. */
  slotWaits?: SlotWaits;
}

/** A session waits at least this long for a due check with the carrier (as the workflow's timer does). */
const MIN_CHECK_WAIT_MS = 1_000;
/** Beyond its deadline a session's run stays marked this long: its next session starts within it. */
const SESSION_MARK_MARGIN_SECONDS = 5;

export function createDialActivities(deps: DialDeps) {
  const { database, logger } = deps;

  /** The carrier refused the account or caller ID: every lead would fail alike, so the run waits for an operator. */
  async function pauseForAccountRefusal(runId: string, reason: string) {
    const lastError = `Paused: the carrier refused the account or caller ID (${reason}); fix the configuration, then resume`;
    const paused = await changeRunStatus(database.pool, runId, { ...RUN_TRANSITIONS.pauseForCarrier, lastError });
    if (paused) logger.error({ runId, lastError }, 'run paused: the carrier refused the account or caller ID');
  }

  /** Calls of the business due for a check are checked with the carrier before slots are counted. */
  async function reconcileBusiness(businessId: string): Promise<void> {
    const reconciled = await reconcileStaleCalls(deps, businessId);
    if (reconciled.freed > 0) await deps.wakeRuns(businessId, { slots: reconciled.freed });
  }

  return {
    /**
     * One dial pass: reserve-and-claim as many queued jobs as the business has free slots (atomic,
     * see src/slots.ts), then dial exactly those, in parallel, and report where the run stands.
     */
    dialAvailableSlots({ runId, publicBaseUrl }: { runId: string; publicBaseUrl: string }): Promise<DialPassSummary> {
      // The session's latest pass rides on its heartbeats: the run's pending activity in the Web UI
      // says what the session did so far and what it waits for.
      const session: { latest: DialPassSummary | null } = { latest: null };
      return withHeartbeat(
        async () => {
          // Counted once, for the workflow: a session's passes need only what holds them back.
          const pass = await dialSession(runId, publicBaseUrl, session);
          const progress = await runProgress(database.pool, runId);
          return { ...pass, dialedTotal: progress.dialed, keptOpen: progress.keptOpen };
        },
        () => session.latest,
      );
    },
  };

  /**
   * A dial session: a pass, and while the run has leads it may dial and waits only for slots, a
   * pass again each time Postgres announces a freed slot of its business (a callback, a check, a
   * withdrawn reservation, a pause or cancel), for up to DIAL_SESSION_SECONDS. A freed slot is then
   * refilled without a wake-up signal, a workflow task or a timer: the run is marked in session,
   * and wake-ups pass it over. The claim alone still decides what is dialed. A local pass (it
   * holds its workflow task) and a worker without slot waits dial once.
   */
  async function dialSession(runId: string, publicBaseUrl: string, session: { latest: DialPassSummary | null }): Promise<DialPassSummary> {
    const run = await findRun(database.pool, runId);
    if (!run) throw nonRetryable(FailureType.RunNotLive, `run ${runId} is gone in Postgres; it dials no more`);
    const waits = deps.slotWaits;
    const sessionMs = sessionLengthMs(deps.config);
    const activity = currentActivity();
    if (!waits || sessionMs <= 0 || activity?.info.isLocal) {
      const pass = await dialPass(run, publicBaseUrl, { handOn: true });
      return { ...pass.summary, ...(await fullStanding(runId)) };
    }
    const deadline = Date.now() + sessionMs;
    const unfollow = waits.follow(run.business_id);
    // A session leaves no mark behind, but one killed mid-wait did: cleared first, so that a mark is
    // always this session's own and unmarking before the last look closes the race with wake-ups.
    await endRunSession(database.pool, runId);
    let marked = false;
    let total: DialPassSummary | null = null;
    // The run's queued jobs, counted in full on the first pass and again whenever this floor reaches
    // 0; between, counted down by each claim (a retry or a withdrawn reservation only adds to the
    // queue, so it never overstates). A pass then reads nothing beyond its claim, however large the run.
    let queuedFloor = 0;
    let exact = false;
    const handBack = async (summary: DialPassSummary) => (exact ? summary : { ...summary, ...(await fullStanding(runId)) });
    try {
      for (let first = true; ; first = false) {
        const since = waits.seen(run.business_id);
        const pass = await dialPass(run, publicBaseUrl, { handOn: first });
        // A change wakes one session of the business in its turn: what this one could not use goes
        // to the next one waiting for it.
        if (pass.leavesSlots) waits.handOn(run.business_id, pass.otherCandidates);
        queuedFloor -= pass.taken;
        let standing: Standing;
        if (first || queuedFloor <= 0) {
          standing = await fullStanding(runId);
          queuedFloor = standing.queued;
          exact = true;
        } else {
          standing = { ...pass.seen, queued: queuedFloor };
          exact = false;
        }
        const summary: DialPassSummary = { ...pass.summary, ...standing };
        total = total ? addPasses(total, summary) : summary;
        session.latest = total;
        const left = deadline - Date.now();
        if (!waitsOnlyForSlots(summary)) {
          if (!marked) return await handBack(total);
          // Unmarked first, then one more pass: a slot freed until now passed this run over (and
          // a call that ended since, e.g. its last, is in the standing the workflow acts on).
          await endRunSession(database.pool, runId);
          marked = false;
          continue;
        }
        if (left <= 0) break;
        if (!marked) {
          await markRunInSession(database.pool, runId, Math.ceil(left / 1000) + SESSION_MARK_MARGIN_SECONDS);
          marked = true;
        }
        const untilCheck = summary.nextCheckAt ? Math.max(MIN_CHECK_WAIT_MS, Date.parse(summary.nextCheckAt) - Date.now()) : Number.POSITIVE_INFINITY;
        const heard = await waits.wait(run.business_id, since, Math.min(left, untilCheck), {
          runId,
          counted: pass.snapshot,
          ...(activity ? { signal: activity.cancellationSignal } : {}),
        });
        // The worker is shutting down (or the pass was cancelled): the run's next pass goes to another worker at once.
        if (heard === 'stopped') break;
      }
      // Handing back with leads to dial: the next session starts at once (a wake-up meanwhile only
      // repeats that).
      return { ...(await handBack(total!)), again: true };
    } catch (err) {
      // A pass that failed may have been this business's turn: the next session waiting takes it.
      waits.handOn(run.business_id);
      throw err;
    } finally {
      unfollow();
      if (marked) await endRunSession(database.pool, runId).catch(() => undefined);
    }
  }

  /**
   * Where the run stands, read in full: its status, queued and dialing jobs, its business's next
   * check. A canceling run first ends the jobs a withdrawn reservation put back in the queue.
   */
  async function fullStanding(runId: string): Promise<Standing> {
    let standing = await runStanding(database.pool, runId, quietCallCheckSeconds(deps.config));
    if (standing.status === 'canceling' && standing.queued > 0) {
      await endQueuedJobs(database.pool, runId, 'canceled', deps.config.queuedJobsEndBatch);
      standing = await runStanding(database.pool, runId, quietCallCheckSeconds(deps.config));
    }
    return { runStatus: standing.status, queued: standing.queued, dialing: standing.dialing, nextCheckAt: standing.nextCheckAt?.toISOString() ?? null };
  }

  /**
   * One pass. `handOn`: it was started by a wake-up, so slots it cannot use go on to other runs (a
   * session's later passes heard Postgres, as every session of the business did). Returns what it
   * did, the jobs it took out of the queue, and the standing as its claim saw it (queued excepted).
   */
  async function dialPass(run: RunRow, publicBaseUrl: string, { handOn }: { handOn: boolean }): Promise<PassResult> {
      const runId = run.id;
      const businessId = run.business_id;
      const claim = await reserveAndClaimJobs(database, run, randomUUID(), publicBaseUrl, {
        pacing: pacingOf(deps.config),
        quietSeconds: quietCallCheckSeconds(deps.config),
        endBatch: deps.config.queuedJobsEndBatch,
      });
      if (claim.runStatus === null || !(LIVE_RUN_STATUSES as readonly string[]).includes(claim.runStatus)) {
        // The run ended in Postgres (failed by the API, or gone): its workflow must not dial for it.
        throw nonRetryable(FailureType.RunNotLive, `run ${runId} is ${claim.runStatus ?? 'gone'} in Postgres; it dials no more`);
      }
      const limit = claim.slots?.limit ?? 0;
      const active = claim.slots?.active ?? 0;
      if (claim.heldBy) {
        const why = claim.heldBy === 'business-limit' ? `business at its limit (${active}/${limit})` : `no slot for this run (${claim.heldBy})`;
        logger.debug({ runId, active, limit, heldBy: claim.heldBy, run: claim.slots?.run }, `${why}, waiting`);
      }
      if (claim.waiting) logger.info({ runId, waiting: claim.waiting }, `nothing to dial before ${claim.waiting.until?.toISOString() ?? 'a window opens'} (${claim.waiting.reason}), waiting`);
      if (claim.expired > 0) logger.info({ runId, expired: claim.expired }, 'the run reached its stopAt: leads not yet dialed expired');
      if (claim.skippedDoNotCall > 0) logger.info({ runId, skipped: claim.skippedDoNotCall }, 'leads skipped: their numbers are on a do-not-call list');
      const outcomes = await placeReservedCalls(deps, claim.claimed, 'bulk');
      claim.claimed.forEach((call, i) => {
        const outcome = outcomes[i]!;
        const context = { runId, lead: call.position + 1, leadId: call.leadId, callId: call.callId, to: call.to };
        if (outcome.kind === 'placed') logger.debug({ ...context, callSid: outcome.callSid }, `call started for lead ${call.position + 1}`);
        else logger.warn({ ...context, outcome: outcome.kind, reason: outcome.message }, `call not placed for lead ${call.position + 1}: ${outcome.kind}`);
      });
      const count = (kind: DialOutcome['kind']) => outcomes.filter((o) => o.kind === kind).length;
      // A refused call freed its slot at once: the runs that can use it are woken (this one too).
      const freedBusinessId = outcomes.flatMap((o) => (o.kind === 'rejected' && o.freed.result === 'applied' ? [o.freed.businessId] : []))[0];
      if (freedBusinessId) await deps.wakeRuns(freedBusinessId, { slots: count('rejected') });
      // A pass that took nothing may have been woken for a slot it cannot use (paused, waiting, at its
      // share or cap): the business's spare slots go on to the runs that can use them, so a wake-up is
      // never swallowed. Not when the carrier's pace holds every run alike.
      const spare = claim.slots ? spareRunSlots(claim.slots) : null;
      const leavesSlots = claim.heldBy !== 'pacing' && spare !== 0;
      if (handOn && claim.claimed.length === 0 && leavesSlots) {
        await deps.wakeRuns(businessId, { ...(spare === null ? {} : { slots: spare }), except: runId });
      }
      const accountRefusal = outcomes.find((o) => o.kind === 'account-refused');
      if (accountRefusal) await pauseForAccountRefusal(runId, accountRefusal.message);
      // The claim saw a call of the business due for a check with the carrier: checked now, after
      // this pass's dials (a slot it frees is announced like any other, and claimed by the next pass).
      if (claim.check.due) await reconcileBusiness(businessId);

      const notPlaced = count('rejected') + count('not-sent') + count('account-refused') + count('do-not-call');
      // The next check the business has: the one the claim saw, or a call this pass dialed (its first check).
      const checks = [claim.check.nextAt?.getTime(), ...outcomes.map((o) => (o.kind === 'placed' || o.kind === 'unknown' ? Date.now() + checkDelaySeconds(deps.config, o.kind === 'unknown', 0) * 1000 : undefined))];
      const nextCheck = Math.min(...checks.filter((t): t is number => t !== undefined));
      return {
        taken: claim.claimed.length + claim.skippedDoNotCall + claim.expired - count('not-sent') - count('account-refused'),
        leavesSlots,
        otherCandidates: claim.otherCandidates,
        snapshot: claim.snapshot,
        seen: {
          runStatus: accountRefusal ? 'paused' : claim.runStatus,
          dialing: (claim.slots?.run.active ?? 0) - notPlaced,
          nextCheckAt: Number.isFinite(nextCheck) ? new Date(nextCheck).toISOString() : null,
        },
        summary: {
          dialed: count('placed'),
          rejected: count('rejected'),
          notSent: count('not-sent') + count('account-refused'),
          skippedDoNotCall: claim.skippedDoNotCall + count('do-not-call'),
          heldBy: claim.heldBy,
          waiting: claim.waiting
            ? {
                reason: claim.waiting.reason,
                until: claim.waiting.until?.toISOString() ?? null,
                untilLocal: claim.waiting.until && claim.waiting.timeZone ? localTimeLabel(claim.waiting.until, claim.waiting.timeZone) : null,
              }
            : null,
          stopAt: claim.stopAt?.toISOString() ?? null,
          unknown: count('unknown'),
          active: active - notPlaced,
          limit,
        },
      };
  }
}

/** Where a run stands after a pass: what the workflow decides from. */
type Standing = Pick<DialPassSummary, 'runStatus' | 'queued' | 'dialing' | 'nextCheckAt'>;

interface PassResult {
  /** Jobs this pass took out of the queue for good (claimed and dialed or refused, skipped, expired). */
  taken: number;
  /** The business had slots its runs may take left after this pass's claim (the carrier's pace aside): another run may use them. */
  leavesSlots: boolean;
  /** The runs its claim found could use them, best first. */
  otherCandidates: string[];
  /** The snapshot its claim counted the slots in: changes it saw need no pass again. */
  snapshot: string;
  /** The standing as the pass's claim saw it, without the queued count. */
  seen: Omit<Standing, 'queued'>;
  summary: Omit<DialPassSummary, keyof Standing>;
}

/** The session's length: DIAL_SESSION_SECONDS, ended early enough that its last pass's creates finish inside the pass's timeout. */
function sessionLengthMs(config: Pick<Config, 'dialPass' | 'twilio'>): number {
  const room = config.dialPass.timeoutSeconds * 1000 - config.twilio.requestTimeoutMs - 5_000;
  return Math.max(0, Math.min(config.dialPass.sessionSeconds * 1000, room));
}

/** The activity this runs in; null when called directly (a test). */
function currentActivity(): Context | null {
  try {
    return Context.current();
  } catch {
    return null;
  }
}

/** The run may dial more and only slots hold it back: not done, not paused, not waiting for a time or the carrier's pace. */
function waitsOnlyForSlots(pass: DialPassSummary): boolean {
  return pass.runStatus === 'running' && pass.queued > 0 && pass.waiting === null && pass.notSent === 0 && pass.heldBy !== 'pacing';
}

/** A session's passes as one: counts summed, the standing of the last. */
function addPasses(total: DialPassSummary, pass: DialPassSummary): DialPassSummary {
  return {
    ...pass,
    dialed: total.dialed + pass.dialed,
    rejected: total.rejected + pass.rejected,
    notSent: total.notSent + pass.notSent,
    skippedDoNotCall: (total.skippedDoNotCall ?? 0) + (pass.skippedDoNotCall ?? 0),
    unknown: total.unknown + pass.unknown,
  };
}

/** A moment as an operator reads it in the Web UI: `09:00 America/Chicago` today there, `Wed 2 Dec 09:00 America/Chicago` on another day. */
export function localTimeLabel(at: Date, timeZone: string, now: Date = new Date()): string {
  const local = DateTime.fromJSDate(at, { zone: timeZone }).setLocale('en-US');
  const sameDay = local.hasSame(DateTime.fromJSDate(now, { zone: timeZone }), 'day');
  return `${local.toFormat(sameDay ? 'HH:mm' : 'ccc d LLL HH:mm')} ${timeZone}`;
}
