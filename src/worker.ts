import { DefaultLogger, Runtime } from '@temporalio/worker';
import { createWakeRuns } from './calls/wake-runs';
import { loadConfig } from './config';
import { createDatabase, migrateDatabase } from './db/client';
import { createLogger } from './logger';
import { registry, webhookDeliveries } from './metrics/registry';
import { startMetricsServer } from './metrics/worker-server';
import { runMain } from './main';
import { createTelephonyClient } from './telephony/client';
import { connectTemporalClient, connectWorkerConnection } from './temporal/connection';
import { ensureReconcileSchedule } from './temporal/reconcile-schedule';
import { ensureSearchAttributes } from './temporal/search-attributes';
import { createOutdialWorker } from './temporal/create-worker';
import { startWebhookDispatcher } from './webhooks/dispatcher';

runMain('worker', async () => {
  const config = loadConfig();
  const logger = createLogger('worker', config.logLevel);
  // Once per process, before any connection: the SDK's own metrics (temporal_…) on their own port.
  const temporalMetrics = config.metrics.temporalAddress;
  Runtime.install({
    logger: new DefaultLogger('WARN', (entry) => logger.warn({ sdk: entry.meta }, entry.message)),
    ...(temporalMetrics ? { telemetryOptions: { metrics: { prometheus: { bindAddress: temporalMetrics } } } } : {}),
  });
  const { workerPort, token } = config.metrics;
  const metricsServer = workerPort > 0 ? await startMetricsServer({ port: workerPort, token, registries: [registry] }) : null;
  const database = createDatabase(config.databaseUrl);
  await migrateDatabase(database);
  const temporal = await connectTemporalClient(config.temporal);
  await ensureSearchAttributes(temporal, config.temporal.namespace, logger);
  await ensureReconcileSchedule(temporal, { taskQueue: config.temporal.taskQueue, everySeconds: config.reconcileSweepSeconds, logger });
  const worker = await createOutdialWorker({
    connection: await connectWorkerConnection(config.temporal),
    namespace: config.temporal.namespace,
    taskQueue: config.temporal.taskQueue,
    deps: {
      database,
      temporal,
      telephony: createTelephonyClient(config.twilio),
      logger,
      wakeRuns: createWakeRuns({ database, temporal, logger }),
      config,
    },
  });
  // Webhook delivery on a pool of its own (never the dialing path's connections); 0 concurrency: none here.
  const webhooks = config.webhooks.concurrency > 0 ? startWebhookDispatcher({ databaseUrl: config.databaseUrl, settings: config.webhooks, logger, onAttempt: ({ result }) => webhookDeliveries.inc({ result }) }) : null;
  await webhooks?.ready;
  logger.info(
    { taskQueue: config.temporal.taskQueue, temporal: config.temporal.address, metricsPort: workerPort || null, temporalMetrics },
    'worker started',
  );
  // Runtime handles SIGINT/SIGTERM: the worker drains, then run() resolves.
  await worker.run();
  await webhooks?.stop();
  await database.close();
  await temporal.connection.close();
  await metricsServer?.close();
  logger.info('worker stopped');
});
