import { randomUUID } from 'node:crypto';
import { callVariables } from '../calls/instructions';
import { amdCallbackUrl, statusCallbackUrl } from '../calls/status-callback-url';
import { inTransaction, type Database } from '../db/client';
import { insertReservedCalls } from '../db/queries/calls';
import { claimQueuedJobs } from '../db/queries/jobs';
import { countClaimed, findRun, runDemands, runStatus } from '../db/queries/runs';
import type { RunStatus } from '../db/statuses';
import { fairShares } from './fair-share';
import { lockBusinessSlots, onMachineOf, type BusinessSlots, type ReservedCall } from './slots';

export interface ReservedBulkCall extends ReservedCall {
  jobId: string;
  leadId: string;
  position: number;
}

/** Which rule left this run no slot, when it got none. */
export type HeldBy = 'business-limit' | 'reserved-direct-slots' | 'run-cap' | 'fair-share';

export interface RunSlots extends BusinessSlots {
  /** This run's active calls, its own cap and its fair share (see fair-share.ts). */
  run: { active: number; cap: number | null; share: number };
}

export interface ClaimResult {
  /** Jobs this caller won, each with its reserved call row: dial exactly these. */
  claimed: ReservedBulkCall[];
  /** Jobs ended `skipped_dnc` by this claim: their numbers are on a do-not-call list. */
  skippedDoNotCall: number;
  slots: RunSlots | null;
  heldBy: HeldBy | null;
  runStatus: RunStatus | null;
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

/**
 * Reserve-and-claim for one run, in one transaction under the business's slot lock: count the free
 * slots under every rule, claim up to that many queued jobs with the conditional UPDATE (a loser
 * claims nothing; listed numbers are skipped), and insert their `reserved` call rows. Only after this
 * commits may the caller dial.
 */
export function reserveAndClaimJobs(database: Database, runId: string, lockToken: string, publicBaseUrl: string): Promise<ClaimResult> {
  return inTransaction(database, async (client): Promise<ClaimResult> => {
    const nothing = { claimed: [], skippedDoNotCall: 0, heldBy: null };
    const run = await findRun(client, runId);
    if (!run) return { ...nothing, slots: null, runStatus: null };
    const locked = await lockBusinessSlots(client, run.business_id);
    if (!locked) throw new Error(`business ${run.business_id} of run ${runId} does not exist`);
    const { business } = locked;
    // Read the run's status under the lock: a pause committed before this point stops new dials.
    const status = await runStatus(client, runId);
    if (status !== 'running') return { ...nothing, slots: null, runStatus: status };

    const demands = await runDemands(client, run.business_id);
    const shares = fairShares(
      business.max_concurrent_calls - business.reserved_direct_slots,
      demands.map((d) => ({ runId: d.id, active: d.active, cap: d.max_concurrent_calls, waiting: d.has_queued, claimed: d.jobs_claimed })),
    );
    const own = demands.find((d) => d.id === runId);
    const slots: RunSlots = { ...locked.slots, run: { active: own?.active ?? 0, cap: run.max_concurrent_calls, share: shares.get(runId) ?? 0 } };
    const { free, heldBy } = freeSlotsOf(slots);
    if (free <= 0 || !own?.has_queued) return { ...nothing, heldBy, slots, runStatus: status };

    const { claimed: jobs, skipped } = await claimQueuedJobs(client, { id: runId, businessId: run.business_id }, free, lockToken);
    if (jobs.length === 0) return { ...nothing, skippedDoNotCall: skipped, slots, runStatus: status };
    const from = run.caller_id ?? business.caller_id;
    const voiceApp = run.voice_app ?? business.voice_app;
    const calls: ReservedBulkCall[] = jobs.map((job) => {
      const callId = randomUUID();
      const instructions = {
        voiceApp,
        variables: callVariables(job, { callId, runId, leadId: job.lead_id }),
        machineDetection: run.machine_detection,
      };
      return {
        callId,
        jobId: job.id,
        leadId: job.lead_id,
        position: job.position,
        to: job.phone,
        from,
        statusCallbackUrl: statusCallbackUrl(publicBaseUrl, callId),
        amdCallbackUrl: run.machine_detection?.async ? amdCallbackUrl(publicBaseUrl, callId) : null,
        instructions,
      };
    });
    await insertReservedCalls(
      client,
      { businessId: run.business_id, from, runId },
      calls.map((c) => ({ id: c.callId, to: c.to, statusCallbackUrl: c.statusCallbackUrl, jobId: c.jobId, onMachine: onMachineOf(c.instructions), amdCallbackUrl: c.amdCallbackUrl })),
    );
    await countClaimed(client, runId, calls.length);
    const n = calls.length;
    return {
      claimed: calls,
      skippedDoNotCall: skipped,
      heldBy: null,
      slots: { ...slots, active: slots.active + n, activeInRuns: slots.activeInRuns + n, run: { ...slots.run, active: slots.run.active + n } },
      runStatus: status,
    };
  });
}
