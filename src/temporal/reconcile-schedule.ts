import { ScheduleAlreadyRunning, ScheduleOverlapPolicy, type Client } from '@temporalio/client';
import type { Logger } from '../logger';

export const RECONCILE_SCHEDULE_ID = 'outdial-reconcile';

/**
 * The sweep that reconciles stale calls of every business, once a minute, one at a time (an
 * overlapping sweep is skipped). Every worker ensures it at start: the first one creates it, and a
 * worker configured with another interval or task queue updates it (the last deploy's settings win).
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
    const handle = client.schedule.getHandle(scheduleId);
    const current = await handle.describe();
    const every = current.spec.intervals?.[0]?.every;
    const queue = current.action.type === 'startWorkflow' ? current.action.taskQueue : undefined;
    if (every === everySeconds * 1000 && queue === taskQueue && current.spec.intervals?.length === 1) return;
    await handle.update((previous) => ({
      ...previous,
      spec: { intervals: [{ every: `${everySeconds}s` }] },
      action: { type: 'startWorkflow', workflowType: 'reconcile', taskQueue, args: [] },
    }));
    logger.info({ scheduleId, everySeconds, previousEveryMs: every }, 'reconciliation schedule updated');
  }
}
