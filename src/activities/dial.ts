import { randomUUID } from 'node:crypto';
import { DateTime } from 'luxon';
import type { WakeRuns } from '../calls/wake-runs';
import { quietCallCheckSeconds, type CheckSchedule } from '../calls/check-schedule';
import { placeReservedCall, type DialOutcome } from '../calls/place-call';
import { reconcileStaleCalls } from '../calls/reconcile';
import type { Config } from '../config';
import { LIVE_RUN_STATUSES } from '../db/statuses';
import type { Database } from '../db/client';
import { cancelQueuedJobs } from '../db/queries/jobs';
import { changeRunStatus, findRun, runStanding } from '../db/queries/runs';
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
  config: CheckSchedule & Pick<Config, 'twilio'>;
}

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
      return withHeartbeat(() => dialPass(runId, publicBaseUrl));
    },
  };

  async function dialPass(runId: string, publicBaseUrl: string): Promise<DialPassSummary> {
      const run = await findRun(database.pool, runId);
      if (!run) throw nonRetryable(FailureType.RunNotLive, `run ${runId} is gone in Postgres; it dials no more`);
      const businessId = run.business_id;
      await reconcileBusiness(businessId);
      const claim = await reserveAndClaimJobs(database, run, randomUUID(), publicBaseUrl, pacingOf(deps.config));
      if (claim.runStatus === null || !(LIVE_RUN_STATUSES as readonly string[]).includes(claim.runStatus)) {
        // The run ended in Postgres (failed by the API, or gone): its workflow must not dial for it.
        throw nonRetryable(FailureType.RunNotLive, `run ${runId} is ${claim.runStatus ?? 'gone'} in Postgres; it dials no more`);
      }
      const limit = claim.slots?.limit ?? 0;
      const active = claim.slots?.active ?? 0;
      if (claim.heldBy) {
        const why = claim.heldBy === 'business-limit' ? `business at its limit (${active}/${limit})` : `no slot for this run (${claim.heldBy})`;
        logger.info({ runId, active, limit, heldBy: claim.heldBy, run: claim.slots?.run }, `${why}, waiting`);
      }
      if (claim.waiting) logger.info({ runId, waiting: claim.waiting }, `nothing to dial before ${claim.waiting.until?.toISOString() ?? 'a window opens'} (${claim.waiting.reason}), waiting`);
      if (claim.expired > 0) logger.info({ runId, expired: claim.expired }, 'the run reached its stopAt: leads not yet dialed expired');
      if (claim.skippedDoNotCall > 0) logger.info({ runId, skipped: claim.skippedDoNotCall }, 'leads skipped: their numbers are on a do-not-call list');
      const outcomes = await Promise.all(
        claim.claimed.map(async (call) => {
          const outcome = await placeReservedCall(deps, call, 'bulk');
          const context = { runId, lead: call.position + 1, leadId: call.leadId, callId: call.callId, to: call.to };
          if (outcome.kind === 'placed') logger.info({ ...context, callSid: outcome.callSid }, `call started for lead ${call.position + 1}`);
          else logger.warn({ ...context, outcome: outcome.kind, reason: outcome.message }, `call not placed for lead ${call.position + 1}: ${outcome.kind}`);
          return outcome;
        }),
      );
      const count = (kind: DialOutcome['kind']) => outcomes.filter((o) => o.kind === kind).length;
      // A refused call freed its slot at once: the runs that can use it are woken (this one too).
      const freedBusinessId = outcomes.flatMap((o) => (o.kind === 'rejected' && o.freed.result === 'applied' ? [o.freed.businessId] : []))[0];
      if (freedBusinessId) await deps.wakeRuns(freedBusinessId, { slots: count('rejected') });
      // A pass that took nothing may have been woken for a slot it cannot use (paused, waiting, at its
      // share or cap): the business's spare slots go on to the runs that can use them, so a wake-up is
      // never swallowed. Not when the carrier's pace holds every run alike.
      const spare = claim.slots ? spareRunSlots(claim.slots) : null;
      if (claim.claimed.length === 0 && claim.heldBy !== 'pacing' && spare !== 0) {
        await deps.wakeRuns(businessId, { ...(spare === null ? {} : { slots: spare }), except: runId });
      }
      const accountRefusal = outcomes.find((o) => o.kind === 'account-refused');
      if (accountRefusal) await pauseForAccountRefusal(runId, accountRefusal.message);

      // Where the run stands now, in one read. The run wakes for the business's next check (a dial whose
      // outcome is unknown is asked about within seconds).
      let standing = await runStanding(database.pool, runId, quietCallCheckSeconds(deps.config));
      const { status, nextCheckAt } = standing;
      // A canceling run ends the jobs a withdrawn reservation put back in the queue, then counts again.
      if (status === 'canceling' && standing.queued > 0) {
        await cancelQueuedJobs(database.pool, runId);
        standing = await runStanding(database.pool, runId, quietCallCheckSeconds(deps.config));
      }
      const jobs = standing;
      return {
        runStatus: status,
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
        nextCheckAt: nextCheckAt?.toISOString() ?? null,
        queued: jobs.queued,
        dialing: jobs.dialing,
        dialedTotal: jobs.dialed,
        active: active - count('rejected') - count('not-sent') - count('account-refused') - count('do-not-call'),
        limit,
      };
  }
}

/** A moment as an operator reads it in the Web UI: `09:00 America/Chicago` today there, `Wed 2 Dec 09:00 America/Chicago` on another day. */
export function localTimeLabel(at: Date, timeZone: string, now: Date = new Date()): string {
  const local = DateTime.fromJSDate(at, { zone: timeZone }).setLocale('en-US');
  const sameDay = local.hasSame(DateTime.fromJSDate(now, { zone: timeZone }), 'day');
  return `${local.toFormat(sameDay ? 'HH:mm' : 'ccc d LLL HH:mm')} ${timeZone}`;
}
