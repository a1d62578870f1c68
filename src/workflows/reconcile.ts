import { proxyActivities } from '@temporalio/workflow';
import type { createActivities } from '../activities';

type Activities = ReturnType<typeof createActivities>;

const { reconcileAllStaleCalls, startStalledRuns, expireIdempotencyKeys } = proxyActivities<Activities>({
  startToCloseTimeout: '5 minutes',
  retry: { initialInterval: '5 seconds', maximumAttempts: 3 },
});

export interface ReconcileSweepResult {
  calls: { businesses: number; settled: number; withdrawn: number };
  runs: { started: number; alreadyStarted: number; failed: number };
  expiredIdempotencyKeys: number;
}

/**
 * One sweep, run by a Temporal Schedule, that brings Postgres back in line with the world: calls with
 * no news for a while are checked with the carrier (dial passes do their own business; this covers
 * businesses with no live run), runs committed but never started get their workflow, and
 * idempotency records past their 24 hours are dropped.
 */
export async function reconcile(): Promise<ReconcileSweepResult> {
  const calls = await reconcileAllStaleCalls.executeWithOptions({ summary: 'check calls with no news with the carrier' }, []);
  const runs = await startStalledRuns.executeWithOptions({ summary: 'start runs committed but never started' }, []);
  const expiredIdempotencyKeys = await expireIdempotencyKeys.executeWithOptions({ summary: 'drop idempotency records past 24 h' }, []);
  return { calls, runs, expiredIdempotencyKeys };
}
