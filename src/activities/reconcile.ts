import { quietCallCheckSeconds } from '../calls/check-schedule';
import { reconcileStaleCalls } from '../calls/reconcile';
import { businessesWithCallsDue } from '../db/queries/calls';
import type { DomainDeps } from '../domain/deps';
import { expireOldKeys } from '../domain/idempotency';
import { startStalledRuns } from '../domain/runs/start-stalled-runs';

/** Businesses looked at per sweep; the next sweep takes the rest. */
const BUSINESSES_PER_SWEEP = 200;

/** The reconciliation sweep's steps (see workflows/reconcile.ts). */
export function createReconcileActivities(deps: DomainDeps) {
  return {
    async reconcileAllStaleCalls(): Promise<{ businesses: number; settled: number; withdrawn: number }> {
      const stale = await businessesWithCallsDue(deps.database.pool, quietCallCheckSeconds(deps.config), BUSINESSES_PER_SWEEP);
      const total = { businesses: stale.length, settled: 0, withdrawn: 0 };
      for (const businessId of stale) {
        const r = await reconcileStaleCalls(deps, businessId);
        total.settled += r.settled;
        total.withdrawn += r.withdrawn;
        if (r.freed > 0) await deps.wakeRuns(businessId, { slots: r.freed });
      }
      if (total.businesses > 0) deps.logger.info(total, 'reconciliation sweep');
      return total;
    },

    /** Runs committed but never started (the API died, or Temporal was down, between the two). */
    startStalledRuns: () => startStalledRuns(deps),

    expireIdempotencyKeys: () => expireOldKeys(deps.database),
  };
}
