import type { WakeRuns } from '../calls/wake-runs';
import { reconcileStaleCalls } from '../calls/reconcile';
import type { Config } from '../config';
import type { Database } from '../db/client';
import { ACTIVE_CALL_STATUSES, sqlList } from '../db/statuses';
import type { Logger } from '../logger';
import type { TelephonyClient } from '../telephony/client';

export interface ReconcileActivityDeps {
  database: Database;
  telephony: TelephonyClient;
  logger: Logger;
  wakeRuns: WakeRuns;
  config: Pick<Config, 'reconcileAfterSeconds'>;
}

/** Businesses looked at per sweep; the next sweep takes the rest. */
const BUSINESSES_PER_SWEEP = 200;

export function createReconcileActivities(deps: ReconcileActivityDeps) {
  return {
    async reconcileAllStaleCalls(): Promise<{ businesses: number; settled: number; withdrawn: number }> {
      const stale = await deps.database.pool.query<{ business_id: string }>(
        `SELECT DISTINCT business_id FROM calls
          WHERE status IN (${sqlList(ACTIVE_CALL_STATUSES)}) AND updated_at < now() - make_interval(secs => $1)
          LIMIT ${BUSINESSES_PER_SWEEP}`,
        [deps.config.reconcileAfterSeconds],
      );
      const total = { businesses: stale.rows.length, settled: 0, withdrawn: 0 };
      for (const { business_id: businessId } of stale.rows) {
        const r = await reconcileStaleCalls(deps, businessId, deps.config.reconcileAfterSeconds);
        total.settled += r.settled;
        total.withdrawn += r.withdrawn;
        if (r.freed > 0) await deps.wakeRuns(businessId);
      }
      if (total.businesses > 0) deps.logger.info(total, 'reconciliation sweep');
      return total;
    },
  };
}
