import type { Client } from '@temporalio/client';
import type { Database } from '../db/client';
import { LIVE_RUN_STATUSES, sqlList } from '../db/statuses';
import type { Logger } from '../logger';
import { slotFreedSignal } from '../workflows/messages';

export type WakeRuns = (businessId: string) => Promise<number>;

const SIGNAL_DEADLINE_MS = 3_000;

/**
 * A freed slot belongs to every live run of the business, so each one is signalled (by workflow ID
 * only, so the signal reaches the newest execution after continue-as-new). A failed signal is logged
 * and dropped: the run's fallback timer covers it.
 */
export function createWakeRuns(deps: { database: Database; temporal: Client; logger: Logger }): WakeRuns {
  return async (businessId) => {
    const runs = await deps.database.pool.query<{ workflow_id: string }>(
      `SELECT workflow_id FROM bulk_call_runs WHERE business_id = $1 AND status IN (${sqlList(LIVE_RUN_STATUSES)})`,
      [businessId],
    );
    // Bounded: while Temporal is unreachable a status callback must not hang on retries; the
    // run's fallback timer covers a wake-up that is given up on.
    const deadline = Date.now() + SIGNAL_DEADLINE_MS;
    const results = await Promise.allSettled(
      runs.rows.map((r) => deps.temporal.withDeadline(deadline, () => deps.temporal.workflow.getHandle(r.workflow_id).signal(slotFreedSignal))),
    );
    results.forEach((r, i) => {
      if (r.status === 'rejected') {
        deps.logger.debug({ workflowId: runs.rows[i]?.workflow_id, err: String(r.reason) }, 'wake-up signal not delivered');
      }
    });
    return results.filter((r) => r.status === 'fulfilled').length;
  };
}
