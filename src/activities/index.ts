import type { WakeRuns } from '../calls/wake-runs';
import type { Config } from '../config';
import type { Database } from '../db/client';
import type { Logger } from '../logger';
import type { TelephonyClient } from '../telephony/client';
import { createDialActivities } from './dial';
import { createReconcileActivities } from './reconcile';
import { createRunLifecycleActivities } from './run-lifecycle';

export interface ActivityDeps {
  database: Database;
  telephony: TelephonyClient;
  logger: Logger;
  wakeRuns: WakeRuns;
  config: Pick<Config, 'publicHost' | 'env' | 'port' | 'reconcileAfterSeconds'>;
}

/** Every activity of BulkCallRun and the reconciliation sweep, built from its dependencies so tests can hand in real servers. */
export function createActivities(deps: ActivityDeps) {
  return {
    ...createRunLifecycleActivities(deps),
    ...createDialActivities(deps),
    ...createReconcileActivities(deps),
  };
}
