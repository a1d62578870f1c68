import { ScheduleAlreadyRunning, ScheduleOverlapPolicy, type Client } from '@temporalio/client';
import type { Logger } from '../logger';

export const RECONCILE_SCHEDULE_ID = 'outdial-reconcile';

/**
 * The sweep that reconciles stale calls of every business, once a minute, one at a time (an
 * overlapping sweep is skipped). Created by every worker at start; the first one wins, and a
 * changed interval is not applied to an existing schedule (update or delete it in the Web UI).
 */
export async function ensureReconcileSchedule(
  client: Client,
  opts: { taskQueue: string; everySeconds: number; logger: Logger; scheduleId?: string },
): Promise<void> {
  const { taskQueue, everySeconds, logger, scheduleId = RECONCILE_SCHEDULE_ID } = opts;
  if (everySeconds <= 0) return;
  try {
    await client.schedule.create({
      scheduleId,
      spec: { intervals: [{ every: `${everySeconds}s` }] },
      action: { type: 'startWorkflow', workflowType: 'reconcile', taskQueue, args: [] },
      policies: { overlap: ScheduleOverlapPolicy.SKIP },
    });
    logger.info({ scheduleId, everySeconds }, 'reconciliation schedule created');
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
  }
}
