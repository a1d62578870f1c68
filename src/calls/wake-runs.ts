import type { Client } from '@temporalio/client';
import type { Database } from '../db/client';
import { runWorkflowIds } from '../db/queries/runs';
import { LIVE_RUN_STATUSES } from '../db/statuses';
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
    const workflowIds = await runWorkflowIds(deps.database.pool, businessId, LIVE_RUN_STATUSES);
    // Bounded: while Temporal is unreachable a status callback must not hang on retries; the
    // run's fallback timer covers a wake-up that is given up on.
    const deadline = Date.now() + SIGNAL_DEADLINE_MS;
    const results = await Promise.allSettled(
      workflowIds.map((id) => deps.temporal.withDeadline(deadline, () => deps.temporal.workflow.getHandle(id).signal(slotFreedSignal))),
    );
    results.forEach((r, i) => {
      if (r.status === 'rejected') {
        deps.logger.debug({ workflowId: workflowIds[i], err: String(r.reason) }, 'wake-up signal not delivered');
      }
    });
    return results.filter((r) => r.status === 'fulfilled').length;
  };
}
