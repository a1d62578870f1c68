import { createApp } from './api/app';
import { checkAfterApiStart } from './calls/reconcile';
import { createWakeRuns, WakeRetryQueue } from './calls/wake-runs';
import { loadConfig, requireAdminKeys } from './config';
import { createDatabase, migrateDatabase } from './db/client';
import { startRunEventsHub } from './live/run-events-hub';
import { createLogger } from './logger';
import { runMain } from './main';
import { resolvePublicHost } from './public-host';
import { createTelephonyClient } from './telephony/client';
import { connectTemporalClient } from './temporal/connection';

runMain('api', async () => {
  const startedAt = new Date();
  const config = loadConfig();
  requireAdminKeys(config);
  const logger = createLogger('api', config.logLevel);
  const database = createDatabase(config.databaseUrl, { max: config.databasePoolSize, preparedStatements: config.databasePreparedStatements, asyncStatusCommits: config.databaseAsyncStatusCommits });
  await migrateDatabase(database);
  const temporal = await connectTemporalClient(config.temporal);
  const wakeRetries = new WakeRetryQueue({ temporal, logger }, config.wakeRetry);
  const runEvents = startRunEventsHub({ database, databaseUrl: config.databaseUrl, logger, ...config.liveEvents });
  const wakeRuns = createWakeRuns({ database, temporal, logger, retries: wakeRetries, pendingSeconds: config.wakePendingSeconds });
  const app = createApp({ runEvents, database, temporal, telephony: createTelephonyClient(config.twilio), logger, wakeRuns, config });
  const host = resolvePublicHost(config);
  if (!host.ok) logger.warn(`${host.error}: runs will fail and status callbacks cannot be verified until PUBLIC_HOST is set`);
  else if (host.warning) logger.warn(host.warning);
  const server = app.listen(config.port, () => {
    logger.info({ port: config.port, publicHost: host.ok ? host.baseUrl : null }, `API listening on :${config.port}`);
    if (config.reconcileOnApiStart) {
      checkAfterApiStart({ database, wakeRuns, logger }, startedAt).catch((err: unknown) =>
        logger.warn({ err: (err as Error).message }, 'API started: could not schedule checks of quiet calls; their own schedule covers them'),
      );
    }
  });
  server.on('error', (err) => {
    process.stderr.write(`outdial api: cannot listen on port ${config.port}: ${err.message}\n`);
    process.exit(1);
  });
  // Requests in flight (status callbacks above all: Twilio does not retry them) finish first;
  // idle keep-alive connections close at once, and stragglers are cut after a grace period.
  const shutdown = () => {
    logger.info('API stopping');
    // Event streams end first (their clients resume elsewhere with Last-Event-ID), so they hold nothing open.
    const streamsClosed = runEvents.stop();
    server.close(() => {
      void streamsClosed
        .then(() => wakeRetries.stop())
        .then(() => Promise.allSettled([database.close(), temporal.connection.close()]))
        .then(() => process.exit(0));
    });
    server.closeIdleConnections();
    setTimeout(() => server.closeAllConnections(), 10_000).unref();
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
});
