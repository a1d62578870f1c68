import { randomUUID } from 'node:crypto';
import { callVariables } from '../calls/instructions';
import { amdCallbackUrl, statusCallbackUrl } from '../calls/status-callback-url';
import { inTransaction, type Database } from '../db/client';
import { claimQueuedJobs, expireQueuedJobs, type ClaimReservation } from '../db/queries/jobs';
import { nextDialableAt, settleRunClaim, type RunDemandRow, type RunRow } from '../db/queries/runs';
import { DEFAULT_CALLING_WINDOW, type CallingWindow } from '../db/settings';
import type { RunStatus } from '../db/statuses';
import { fairShares } from './fair-share';
import { recordSends, sendPlacesLeft } from '../db/queries/carrier-sends';
import { isPaced, lockBusinessRunSlots, onMachineOf, type BusinessSlots, type Pacing, type ReservedCall } from './slots';
import { observeSlotRefills, refillsSince } from '../metrics/slot-refill';

export interface ReservedBulkCall extends ReservedCall {
  jobId: string;
  leadId: string;
  position: number;
}

/** Which rule left this run no slot, when it got none. */
export type HeldBy = 'business-limit' | 'reserved-direct-slots' | 'run-cap' | 'fair-share' | 'pacing';

export interface RunSlots extends BusinessSlots {
  /** This run's active calls, its own cap and its fair share (see fair-share.ts). */
  run: { active: number; cap: number | null; share: number };
}

/** Why a run with queued leads has none it may dial now, and until when (null: no opening found). */
export type RunWaiting = {
  reason: 'start-at' | 'calling-window' | 'retry' | 'pacing';
  until: Date | null;
  /** The business's zone, to show `until` to operators in (absent for pacing's sub-second waits). */
  timeZone?: string;
};

export interface ClaimResult {
  /** Jobs this caller won, each with its reserved call row: dial exactly these. */
  claimed: ReservedBulkCall[];
  /** Jobs ended `skipped_dnc` by this claim: their numbers are on a do-not-call list. */
  skippedDoNotCall: number;
  /** Jobs ended `expired` by this claim: the run's stopAt has passed. */
  expired: number;
  /** Set when no queued lead may be dialed now, whatever the slots: the run sleeps until `until`. */
  waiting: RunWaiting | null;
  /** The run's stopAt, for the workflow to wake at it. */
  stopAt: Date | null;
  slots: RunSlots | null;
  heldBy: HeldBy | null;
  runStatus: RunStatus | null;
  /** The business's next check with the carrier as the claim found it: whether a call is due now, and when the next one is (null: none active). */
  check: { due: boolean; nextAt: Date | null };
  /** The business's other running runs that could use a slot this claim leaves, best first (wakeCandidates; empty when it did not read them). */
  otherCandidates: string[];
  /** The snapshot its slots were counted in (SlotStanding.snapshot). */
  snapshot: string;
}

/** The free slots of one run and the rule that limits them: the business's limit, the runs' part of it, the run's cap, its fair share. */
function freeSlotsOf(slots: RunSlots): { free: number; heldBy: HeldBy | null } {
  const limits: [number, HeldBy][] = [
    [slots.limit - slots.active, 'business-limit'],
    [slots.limit - slots.reservedDirectSlots - slots.activeInRuns, 'reserved-direct-slots'],
    [(slots.run.cap ?? Number.POSITIVE_INFINITY) - slots.run.active, 'run-cap'],
    [slots.run.share - slots.run.active, 'fair-share'],
  ];
  const [free, rule] = limits.reduce((min, l) => (l[0] < min[0] ? l : min));
  return free > 0 ? { free, heldBy: null } : { free: 0, heldBy: rule };
}

/** The slots the business's runs may still take now, whichever run: the limit's and the runs' part's rules. */
export function spareRunSlots(slots: BusinessSlots): number {
  return Math.max(0, Math.min(slots.limit - slots.active, slots.limit - slots.reservedDirectSlots - slots.activeInRuns));
}

/**
 * Every running run's slots under every rule, fair shares included, from the same rows the claim
 * reads: the claim takes its own run's; a wake-up picks the runs that can use a freed slot by it.
 */
export function runSlotsOf(business: BusinessSlots, demands: readonly RunDemandRow[]): Map<string, RunSlots> {
  const shares = fairShares(
    business.limit - business.reservedDirectSlots,
    demands.map((d) => ({ runId: d.id, active: d.active, cap: d.max_concurrent_calls, waiting: d.has_dialable, claimed: d.jobs_claimed })),
  );
  return new Map(demands.map((d) => [d.id, { ...business, run: { active: d.active, cap: d.max_concurrent_calls, share: shares.get(d.id) ?? 0 } }]));
}

/** The free slots of each running run that has a lead it may dial now (the runs a freed slot can go to). */
export function freeSlotsByRun(business: BusinessSlots, demands: readonly RunDemandRow[]): Map<string, number> {
  const slots = runSlotsOf(business, demands);
  return new Map(demands.filter((d) => d.has_dialable).map((d) => [d.id, freeSlotsOf(slots.get(d.id)!).free]));
}

/**
 * The runs a freed slot can go to, by the claim's own rules (freeSlotsByRun: limit,
 * reserved direct slots, run caps, max-min fair shares): running runs with a lead they may dial now
 * and a free slot, furthest below their share first (ties: fewest claimed, as the shares break them).
 * Only a hint (a wake-up, a hand-on between dial sessions): the claim transaction alone decides what is dialed.
 */
export function wakeCandidates(business: BusinessSlots, demands: readonly RunDemandRow[], except?: string): { run: RunDemandRow; free: number }[] {
  const free = freeSlotsByRun(business, demands);
  return demands
    .filter((d) => d.id !== except && (free.get(d.id) ?? 0) > 0)
    .map((run) => ({ run, free: free.get(run.id)! }))
    .sort((a, b) => b.free - a.free || a.run.jobs_claimed - b.run.jobs_claimed || (a.run.id < b.run.id ? -1 : 1));
}

/**
 * Reserve-and-claim for one run, in one transaction under the business's slot lock: count the free
 * slots under every rule, claim up to that many queued jobs with the conditional UPDATE (a loser
 * claims nothing; listed numbers are skipped), and insert their `reserved` call rows. Only after this
 * commits may the caller dial.
 */
/** The window a run's leads are called in: its own, else its business's, else the default. */
export function effectiveWindow(run: { calling_window: CallingWindow | null }, business: { calling_window: CallingWindow | null }): CallingWindow {
  return run.calling_window ?? business.calling_window ?? DEFAULT_CALLING_WINDOW;
}

/**
 * `run` is the run's row as read by the caller just before (its settings; its status is read again
 * under the lock). `quietSeconds`: the check schedule's quiet call delay, for the business's next check.
 */
export async function reserveAndClaimJobs(
  database: Database,
  run: RunRow,
  lockToken: string,
  publicBaseUrl: string,
  { pacing = null, quietSeconds }: { pacing?: Pacing | null; quietSeconds: number },
): Promise<ClaimResult> {
  const runId = run.id;
  let refills: number[] = [];
  const result = await inTransaction(database, async (client): Promise<ClaimResult> => {
    const stopAt = run.stop_at;
    const locked = await lockBusinessRunSlots(client, run.business_id, { runId, quietSeconds });
    if (!locked) throw new Error(`business ${run.business_id} of run ${runId} does not exist`);
    const { business, standing } = locked;
    const check = { due: standing.checkDue, nextAt: standing.nextCheckAt };
    const nothing = { claimed: [], skippedDoNotCall: 0, expired: 0, waiting: null, heldBy: null, check, otherCandidates: [] as string[], snapshot: standing.snapshot };
    // The run's status as read under the lock: a pause committed before this point stops new dials.
    const timing = standing.run;
    const status = timing?.status ?? null;
    if (!timing || status !== 'running') return { ...nothing, slots: null, runStatus: status, stopAt };

    // Time first, by the database's clock: past its stop, what was not dialed expires; before its
    // start, or with every queued lead outside its window, the run sleeps until the first opening.
    const window = effectiveWindow(run, business);
    if (timing.pastStop) return { ...nothing, expired: await expireQueuedJobs(client, runId), slots: null, runStatus: status, stopAt };
    const demands = standing.demands;
    const own = demands.find((d) => d.id === runId);
    nothing.otherCandidates = wakeCandidates(locked.slots, demands, runId).map((c) => c.run.id);
    if (own?.has_queued && !own.has_dialable) {
      const next = await nextDialableAt(client, runId, window);
      const waiting: RunWaiting = { reason: timing.beforeStart ? 'start-at' : next.allRetries ? 'retry' : 'calling-window', until: next.at, timeZone: business.time_zone };
      await settleRunClaim(client, runId, waiting);
      return { ...nothing, waiting, slots: null, runStatus: status, stopAt };
    }
    // It may dial: what its last claim recorded (a wait, a wake-up) is over. Mostly nothing is, and
    // the claim skips the write.
    if (!own || own.waiting_reason !== null || own.waiting_until !== null || own.woken_seconds_ago !== null) await settleRunClaim(client, runId, null);

    const slots: RunSlots = runSlotsOf(locked.slots, demands).get(runId) ?? {
      ...locked.slots,
      run: { active: 0, cap: run.max_concurrent_calls, share: 0 },
    };
    const slotted = freeSlotsOf(slots);
    if (slotted.free <= 0 || !own?.has_dialable) return { ...nothing, heldBy: slotted.heldBy, slots, runStatus: status, stopAt };
    // The carrier account's pace, last: it is shared by every business of the account.
    let free = slotted.free;
    if (isPaced(pacing)) {
      const places = await sendPlacesLeft(client, pacing);
      if (places.left <= 0) return { ...nothing, heldBy: 'pacing', waiting: { reason: 'pacing', until: places.nextFreeAt }, slots, runStatus: status, stopAt };
      free = Math.min(free, places.left);
    }

    // Call IDs and their callback URLs are fixed before the claim's statement: it inserts the reserved rows itself.
    const from = run.caller_id ?? business.caller_id;
    const reservation: ClaimReservation = {
      from,
      onMachine: onMachineOf({ machineDetection: run.machine_detection }),
      calls: Array.from({ length: free }, () => {
        const id = randomUUID();
        return { id, statusCallbackUrl: statusCallbackUrl(publicBaseUrl, id), amdCallbackUrl: run.machine_detection?.async ? amdCallbackUrl(publicBaseUrl, id) : null };
      }),
      refills: refillsSince(business),
    };
    const claim = await claimQueuedJobs(client, { id: runId, businessId: run.business_id, timeZone: business.time_zone, window }, reservation, lockToken);
    const { claimed: jobs, skipped } = claim;
    if (jobs.length === 0) return { ...nothing, skippedDoNotCall: skipped, slots, runStatus: status, stopAt };
    refills = claim.refills;
    const voiceApp = run.voice_app ?? business.voice_app;
    const calls: ReservedBulkCall[] = jobs.map((job) => {
      const callId = job.call_id;
      return {
        callId,
        jobId: job.id,
        leadId: job.lead_id,
        position: job.position,
        to: job.phone,
        from,
        statusCallbackUrl: job.status_callback_url,
        amdCallbackUrl: job.amd_callback_url,
        instructions: {
          voiceApp,
          variables: callVariables(job, { callId, runId, leadId: job.lead_id }),
          machineDetection: run.machine_detection,
        },
        paced: isPaced(pacing),
      };
    });
    if (isPaced(pacing)) await recordSends(client, pacing.account, calls.map((c) => c.callId));
    const n = calls.length;
    return {
      claimed: calls,
      skippedDoNotCall: skipped,
      expired: 0,
      waiting: null,
      stopAt,
      heldBy: null,
      slots: { ...slots, active: slots.active + n, activeInRuns: slots.activeInRuns + n, run: { ...slots.run, active: slots.run.active + n } },
      runStatus: status,
      check,
      otherCandidates: nothing.otherCandidates,
      snapshot: standing.snapshot,
    };
  });
  observeSlotRefills('bulk', refills);
  return result;
}
