import { randomUUID } from 'node:crypto';
import type { WakeRuns } from '../calls/wake-runs';
import { placeReservedCall } from '../calls/place-call';
import type { Database } from '../db/client';
import type { Logger } from '../logger';
import { reserveAndClaimJobs } from '../slots';
import type { TelephonyClient } from '../telephony/client';
import type { DialPassSummary } from '../workflows/messages';

export interface DialDeps {
  database: Database;
  telephony: TelephonyClient;
  logger: Logger;
  wakeRuns: WakeRuns;
}

export function createDialActivities(deps: DialDeps) {
  const { database, logger } = deps;
  return {
    /**
     * One dial pass: reserve-and-claim as many queued jobs as the business has free slots (atomic,
     * see src/slots.ts), then dial exactly those, in parallel, and report where the run stands.
     */
    async dialAvailableSlots({ runId, publicBaseUrl }: { runId: string; publicBaseUrl: string }): Promise<DialPassSummary> {
      const claim = await reserveAndClaimJobs(database, runId, randomUUID());
      const { limit, active } = claim.slots;
      if (claim.claimed.length === 0 && claim.runStatus === 'running' && active >= limit) {
        logger.info({ runId, active, limit }, `business at its limit (${active}/${limit}), waiting`);
      }
      const outcomes = await Promise.all(
        claim.claimed.map(async (call) => {
          const outcome = await placeReservedCall(deps, call, publicBaseUrl);
          const context = { runId, lead: call.position + 1, leadId: call.leadId, callId: call.callId, to: call.to };
          if (outcome.kind === 'placed') logger.info({ ...context, callSid: outcome.callSid }, `call started for lead ${call.position + 1}`);
          else logger.warn({ ...context, outcome: outcome.kind, reason: outcome.message }, `call not placed for lead ${call.position + 1}: ${outcome.kind}`);
          return outcome;
        }),
      );
      const count = (kind: string) => outcomes.filter((o) => o.kind === kind).length;
      // A refused call freed its slot at once: every live run of the business may use it.
      const freedBusinessId = outcomes.flatMap((o) => (o.kind === 'rejected' && o.freed.result === 'applied' ? [o.freed.businessId] : []))[0];
      if (freedBusinessId) await deps.wakeRuns(freedBusinessId);

      const counts = await database.pool.query<{ status: string; n: string }>(
        `SELECT status, count(*) AS n FROM outbound_call_jobs WHERE run_id = $1 AND status IN ('queued', 'dialing') GROUP BY status`,
        [runId],
      );
      const byStatus = Object.fromEntries(counts.rows.map((r) => [r.status, Number(r.n)]));
      return {
        runStatus: claim.runStatus,
        dialed: count('placed'),
        rejected: count('rejected'),
        notSent: count('not-sent'),
        unknown: count('unknown'),
        queued: byStatus.queued ?? 0,
        dialing: byStatus.dialing ?? 0,
        active: active - count('rejected') - count('not-sent'),
        limit,
      };
    },
  };
}
