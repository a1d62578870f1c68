import type { Client } from '@temporalio/client';
import type { WakeRuns } from '../calls/wake-runs';
import type { Config } from '../config';
import type { Database } from '../db/client';
import type { Logger } from '../logger';
import type { TelephonyClient } from '../telephony/client';
import type { ContinueAsNewLimits } from '../workflows/messages';

/** What the domain operations need: the same for the API, the worker's activities, a CLI and tests. */
export interface DomainDeps {
  database: Database;
  temporal: Client;
  telephony: TelephonyClient;
  logger: Logger;
  wakeRuns: WakeRuns;
  config: Pick<Config, 'publicHost' | 'env' | 'port' | 'temporal' | 'twilio' | 'runWakeFallbackSeconds' | 'runKeptOpenWaitSeconds' | 'dialPass' | 'reconcileAfterSeconds' | 'reconcileFirstCheckSeconds' | 'reconcileQuietCallSeconds' | 'heldCallAfterChecks' | 'stalledRunAfterSeconds' | 'queuedJobsEndBatch'> & {
    /** Overrides when runs continue-as-new (tests use small values to see it happen). */
    runContinueAsNew?: ContinueAsNewLimits;
  };
}
