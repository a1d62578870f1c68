import { proxyActivities } from '@temporalio/workflow';
import type { createActivities } from '../activities';

type Activities = ReturnType<typeof createActivities>;

const { reconcileAllStaleCalls } = proxyActivities<Activities>({
  startToCloseTimeout: '5 minutes',
  retry: { initialInterval: '5 seconds', maximumAttempts: 3 },
});

/**
 * One sweep over every business with calls that have had no news for a while, run by a Temporal
 * Schedule. Dial passes reconcile their own business; this covers businesses with no live run.
 */
export async function reconcileCalls(): Promise<{ businesses: number; settled: number; withdrawn: number }> {
  return await reconcileAllStaleCalls();
}
