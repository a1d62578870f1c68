import { randomUUID } from 'node:crypto';
import { callVariables } from '../calls/instructions';
import { amdCallbackUrl, statusCallbackUrl } from '../calls/status-callback-url';
import { inTransaction, type Database } from '../db/client';
import type { BusinessRow } from '../db/queries/businesses';
import { claimQueuedJobs, claimRound, endQueuedJobs, type ClaimedJob, type ClaimReservation } from '../db/queries/jobs';
import { lockRun, nextDialableAt, runStatus, settleRunClaim, type RunDemandRow, type RunRow, type SlotStanding } from '../db/queries/runs';
import { DEFAULT_CALLING_WINDOW, type CallingWindow } from '../db/settings';
import type { RunStatus } from '../db/statuses';
import { fairShares } from './fair-share';
import { recordSends, sendPlacesLeft } from '../db/queries/carrier-sends';
import { isPaced, lockBusinessRunSlots, onMachineOf, readBusinessRunSlots, type BusinessSlots, type Pacing, type ReservedCall } from './slots';
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
  reason: 'start-at' | 'calling-window' | 'retry' | 'call-at' | 'pacing';
  until: Date | null;
  /** The business's zone, to show `until` to operators in (absent for pacing's sub-second waits). */
  timeZone?: string;
};

export interface ClaimResult {
  /** Jobs this caller won, each with its reserved call row: dial exactly these. */
  claimed: ReservedBulkCall[];
  /** Jobs ended `skipped_dnc` by this claim: their numbers are on a do-not-call list. */
  skippedDoNotCall: number;
  /** Jobs ended `expired` by this claim (after its slot lock): the run's stopAt has passed. */
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

/** The window a run's leads are called in: its own, else its business's, else the default. */
export function effectiveWindow(run: { calling_window: CallingWindow | null }, business: { calling_window: CallingWindow | null }): CallingWindow {
  return run.calling_window ?? business.calling_window ?? DEFAULT_CALLING_WINDOW;
}

/**
 * What a claim may do, decided from one reading of the business's slots and runs (slotStanding),
 * the same for a locked claim and a gated one:
 * - `not-running`: the run does not run (a pause committed before the reading stops new dials);
 * - `past-stop`: its stopAt has passed, what was not dialed expires;
 * - `nothing-dialable`: it has queued leads but none it may dial now (before its start, outside
 *   every window, retries not due): it sleeps until the first opening;
 * - `slots`: its free slots under every rule (heldBy: the rule that left it none), whether it has a
 *   lead it may dial now, and whether what its last claim recorded (a wait, a wake-up) is to be cleared.
 */
type Assessment =
  | { kind: 'not-running' }
  | { kind: 'past-stop' }
  | { kind: 'nothing-dialable' }
  | { kind: 'slots'; slots: RunSlots; free: number; heldBy: HeldBy | null; dialable: boolean; settle: boolean };

function assessClaim(run: RunRow, business: BusinessSlots, standing: SlotStanding): Assessment {
  const timing = standing.run;
  if (!timing || timing.status !== 'running') return { kind: 'not-running' };
  // Time first, by the database's clock.
  if (timing.pastStop) return { kind: 'past-stop' };
  const own = standing.demands.find((d) => d.id === run.id);
  if (own?.has_queued && !own.has_dialable) return { kind: 'nothing-dialable' };
  const slots: RunSlots = runSlotsOf(business, standing.demands).get(run.id) ?? { ...business, run: { active: 0, cap: run.max_concurrent_calls, share: 0 } };
  const { free, heldBy } = freeSlotsOf(slots);
  // Mostly nothing is to be cleared, and the claim skips the write.
  const settle = !own || own.waiting_reason !== null || own.waiting_until !== null || own.woken_seconds_ago !== null;
  return { kind: 'slots', slots, free, heldBy, dialable: own?.has_dialable ?? false, settle };
}

/** The reserved rows a claim of up to `free` jobs may insert: call IDs and callback URLs fixed before its statement. */
function reservationFor(run: RunRow, business: BusinessRow, free: number, publicBaseUrl: string): ClaimReservation {
  return {
    from: run.caller_id ?? business.caller_id,
    onMachine: onMachineOf({ machineDetection: run.machine_detection }),
    calls: Array.from({ length: free }, () => {
      const id = randomUUID();
      return { id, statusCallbackUrl: statusCallbackUrl(publicBaseUrl, id), amdCallbackUrl: run.machine_detection?.async ? amdCallbackUrl(publicBaseUrl, id) : null };
    }),
    refills: refillsSince(business),
  };
}

/** The calls to dial for the jobs a claim won. */
function callsOf(run: RunRow, business: BusinessRow, jobs: readonly ClaimedJob[], from: string, paced: boolean): ReservedBulkCall[] {
  const voiceApp = run.voice_app ?? business.voice_app;
  return jobs.map((job) => {
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
      instructions: { voiceApp, variables: callVariables(job, { callId, runId: run.id, leadId: job.lead_id }), machineDetection: run.machine_detection },
      paced,
    };
  });
}

/** A claim's answer as its reading of the slots found them, before it claims anything. */
function unclaimed(run: RunRow, standing: SlotStanding, business: BusinessSlots, rest: Pick<ClaimResult, 'slots'> & Partial<ClaimResult>): ClaimResult {
  const running = standing.run?.status === 'running';
  return {
    claimed: [],
    skippedDoNotCall: 0,
    expired: 0,
    waiting: null,
    heldBy: null,
    check: { due: standing.checkDue, nextAt: standing.nextCheckAt },
    otherCandidates: running ? wakeCandidates(business, standing.demands, run.id).map((c) => c.run.id) : [],
    snapshot: standing.snapshot,
    runStatus: standing.run?.status ?? null,
    stopAt: run.stop_at,
    ...rest,
  };
}

/** Slots as they stand once `n` more calls of the run are reserved. */
const withClaimed = (slots: RunSlots, n: number): RunSlots => ({ ...slots, active: slots.active + n, activeInRuns: slots.activeInRuns + n, run: { ...slots.run, active: slots.run.active + n } });

/** How many times a gated claim reads and claims again when a slot was taken meanwhile, before it claims under the slot lock. */
const GATED_ATTEMPTS = 3;

/**
 * Reserve-and-claim for one run: count the free slots under every rule, claim up to that many
 * queued jobs with the conditional UPDATE (a loser claims nothing; listed numbers are skipped), and
 * insert their `reserved` call rows. Only after this commits may the caller dial.
 *
 * The common case (the run may dial now, has free slots and nothing of its last claim to clear, no
 * carrier pace) takes two round trips and holds the business's row lock only inside the second: the
 * slots are read without the lock, and the claim's statement commits only if the business's slot
 * version has not moved since (claimRound's gate: every reservation and every change of the limits,
 * the calling window or the time zone moves it). Slots a call ends meanwhile only make the count
 * safe-side. When the version moved, it reads and claims again; after GATED_ATTEMPTS, or for
 * anything else (a wait to record, a wake-up to clear, the carrier's pace), it claims in one
 * transaction under the business's slot lock (see slots.ts). A run past its stopAt claims nothing, and its queued jobs expire after that, `endBatch`
 * per transaction, outside the slot lock (endQueuedJobs).
 *
 * `run` is the run's row as read by the caller just before (its settings; its status is read again
 * with the slots). `quietSeconds`: the check schedule's quiet call delay, for the business's next check.
 */
export async function reserveAndClaimJobs(
  database: Database,
  run: RunRow,
  lockToken: string,
  publicBaseUrl: string,
  { pacing = null, quietSeconds, endBatch }: { pacing?: Pacing | null; quietSeconds: number; endBatch: number },
): Promise<ClaimResult> {
  const expire = async (result: ClaimResult): Promise<ClaimResult> => ({ ...result, expired: await endQueuedJobs(database.pool, run.id, 'expired', endBatch) });
  const taken: ReservedBulkCall[] = [];
  let skipped = 0;
  // The answer of the last round that claimed, with every call taken so far: those are dialed whatever comes next.
  let last: ClaimResult | null = null;
  if (!isPaced(pacing)) {
    for (let attempt = 0; attempt < GATED_ATTEMPTS; attempt++) {
      const read = await readBusinessRunSlots(database.pool, run.business_id, { runId: run.id, quietSeconds });
      if (!read) break;
      const assessed = assessClaim(run, read.slots, read.standing);
      const { business, standing } = read;
      // What takes no slot and writes nothing needs no lock: a pass that finds none, or a run that does not run.
      if (assessed.kind === 'not-running' && !last) return { ...unclaimed(run, standing, read.slots, { slots: null }), skippedDoNotCall: skipped };
      // Calls an earlier round took are dialed first; the next pass expires the rest.
      if (assessed.kind === 'past-stop') return last ?? expire({ ...unclaimed(run, standing, read.slots, { slots: null, otherCandidates: [] }), skippedDoNotCall: skipped });
      if (assessed.kind === 'slots' && !assessed.settle && (assessed.free <= 0 || !assessed.dialable)) {
        return last ?? { ...unclaimed(run, standing, read.slots, { heldBy: assessed.heldBy, slots: assessed.slots }), skippedDoNotCall: skipped };
      }
      if (assessed.kind !== 'slots' || assessed.settle) break;
      const reservation = reservationFor(run, business, assessed.free, publicBaseUrl);
      const window = effectiveWindow(run, business);
      const round = await claimRound(database.pool, { id: run.id, businessId: run.business_id, timeZone: business.time_zone, window }, reservation, lockToken, {
        round: attempt,
        offset: 0,
        gate: { slotVersion: business.slot_version },
      });
      if (round.stale) continue;
      // Nothing dialable by the statement's own clock (a window closed since the reading): the locked claim records the wait.
      if (round.claimed.length === 0 && round.skipped === 0) break;
      observeSlotRefills('bulk', round.refills);
      skipped += round.skipped;
      taken.push(...callsOf(run, business, round.claimed, reservation.from, false));
      if (taken.length > 0) last = { ...unclaimed(run, standing, read.slots, { slots: withClaimed(assessed.slots, round.claimed.length) }), claimed: [...taken], skippedDoNotCall: skipped };
      // Listed numbers took picks: what is left is claimed again, from a new reading.
      if (round.skipped > 0 && round.claimed.length < assessed.free) continue;
      return last!;
    }
  }
  if (last) return last;
  const { pastStop, ...locked } = await claimUnderSlotLock(database, run, lockToken, publicBaseUrl, { pacing, quietSeconds });
  const result = { ...locked, skippedDoNotCall: skipped + locked.skippedDoNotCall };
  return pastStop ? expire(result) : result;
}

/** The claim in one transaction under the business's slot lock: every case of assessClaim, with the writes it needs. */
async function claimUnderSlotLock(
  database: Database,
  run: RunRow,
  lockToken: string,
  publicBaseUrl: string,
  { pacing, quietSeconds }: { pacing: Pacing | null; quietSeconds: number },
): Promise<ClaimResult & { pastStop?: true }> {
  const runId = run.id;
  let refills: number[] = [];
  const result = await inTransaction(database, async (client): Promise<ClaimResult & { pastStop?: true }> => {
    const locked = await lockBusinessRunSlots(client, run.business_id, { runId, quietSeconds });
    if (!locked) throw new Error(`business ${run.business_id} of run ${runId} does not exist`);
    const { business, standing } = locked;
    const assessed = assessClaim(run, locked.slots, standing);
    if (assessed.kind === 'not-running') return unclaimed(run, standing, locked.slots, { slots: null });
    const window = effectiveWindow(run, business);
    if (assessed.kind === 'past-stop') return { ...unclaimed(run, standing, locked.slots, { slots: null, otherCandidates: [] }), pastStop: true };
    const nothing = unclaimed(run, standing, locked.slots, { slots: null });
    if (assessed.kind === 'nothing-dialable') {
      const next = await nextDialableAt(client, runId, window);
      const waiting: RunWaiting = { reason: standing.run?.beforeStart ? 'start-at' : (next.dueTime ?? 'calling-window'), until: next.at, timeZone: business.time_zone };
      await settleRunClaim(client, runId, waiting);
      return { ...nothing, waiting, slots: null };
    }
    // It may dial: what its last claim recorded (a wait, a wake-up) is over.
    if (assessed.settle) await settleRunClaim(client, runId, null);
    const { slots } = assessed;
    if (assessed.free <= 0 || !assessed.dialable) return { ...nothing, heldBy: assessed.heldBy, slots };
    // The carrier account's pace, last: it is shared by every business of the account.
    let free = assessed.free;
    if (isPaced(pacing)) {
      // The run's row before the account's pace lock: a claim waiting for its run (a cancel ending
      // many queued jobs holds it) must not hold up every business of the account meanwhile.
      await lockRun(client, runId);
      const places = await sendPlacesLeft(client, pacing);
      if (places.left <= 0) return { ...nothing, heldBy: 'pacing', waiting: { reason: 'pacing', until: places.nextFreeAt }, slots };
      free = Math.min(free, places.left);
    }
    const reservation = reservationFor(run, business, free, publicBaseUrl);
    const claim = await claimQueuedJobs(client, { id: runId, businessId: run.business_id, timeZone: business.time_zone, window }, reservation, lockToken);
    // A run that stopped running since the reading says so: its pass must not wait as if it ran.
    if (claim.claimed.length === 0) return { ...nothing, skippedDoNotCall: claim.skipped, slots, ...(claim.stale ? { runStatus: (await runStatus(client, runId)) ?? nothing.runStatus } : {}) };
    refills = claim.refills;
    const calls = callsOf(run, business, claim.claimed, reservation.from, isPaced(pacing));
    if (isPaced(pacing)) await recordSends(client, pacing.account, calls.map((c) => c.callId));
    return { ...nothing, claimed: calls, skippedDoNotCall: claim.skipped, slots: withClaimed(slots, calls.length) };
  });
  observeSlotRefills('bulk', refills);
  return result;
}
