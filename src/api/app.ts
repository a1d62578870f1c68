import type { Client } from '@temporalio/client';
import express from 'express';
import type { WakeRuns } from '../calls/wake-runs';
import type { Config } from '../config';
import type { Database } from '../db/client';
import type { Logger } from '../logger';
import type { TelephonyClient } from '../telephony/client';
import type { ContinueAsNewLimits } from '../workflows/messages';
import { errorHandler, unknownRoute } from './errors';
import { businessRoutes } from './routes/businesses';
import { callRoutes } from './routes/calls';
import { healthRoutes } from './routes/health';
import { runRoutes } from './routes/runs';
import { twilioStatusRoutes } from './routes/twilio-status';

export interface ApiDeps {
  database: Database;
  temporal: Client;
  telephony: TelephonyClient;
  logger: Logger;
  wakeRuns: WakeRuns;
  config: Pick<Config, 'publicHost' | 'env' | 'port' | 'twilio' | 'temporal' | 'runWakeFallbackSeconds' | 'reconcileAfterSeconds'> & {
    /** Overrides when runs continue-as-new (tests use small values to see it happen). */
    runContinueAsNew?: ContinueAsNewLimits;
  };
}

/** The Express app: stateless, so any number of API processes can serve it. */
export function createApp(deps: ApiDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use(healthRoutes(deps));
  app.use(twilioStatusRoutes(deps));
  app.use(express.json({ limit: '20mb' }));
  app.use(businessRoutes(deps), runRoutes(deps), callRoutes(deps));
  app.use(unknownRoute);
  app.use(errorHandler(deps.logger));
  return app;
}
