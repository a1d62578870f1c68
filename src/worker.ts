import { DefaultLogger, Runtime, type Worker } from '@temporalio/worker';
import { startSlotWaits } from './calls/slot-waits';
import { createWakeRuns, WakeRetryQueue } from './calls/wake-runs';
import { dependencyHealth } from './health';
import { loadConfig } from './config';
import { createDatabase, migrateDatabase } from './db/client';
import { createLogger } from './logger';
import { registry, webhookDeliveries } from './metrics/registry';
import { startMetricsServer, type HealthCheck } from './metrics/worker-server';
import { runMain } from './main';
import { createTelephonyClient } from './telephony/client';
import { connectTemporalClient, connectWorkerConnection } from './temporal/connection';
import { ensureReconcileSchedule } from './temporal/reconcile-schedule';
import { ensureSearchAttributes } from './temporal/search-attributes';
import { createOutdialWorker } from './temporal/create-worker';
import { withWorkflowBundle } from './temporal/workflow-bundle';
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
  // Healthy once the worker polls its task queue and Postgres and Temporal answer.
  let ready: { worker: Worker; deps: Parameters<typeof dependencyHealth>[0] } | null = null;
  const health: HealthCheck = async () => {
    if (!ready) return { ok: false, worker: 'starting' };
    const state = ready.worker.getState();
    const deps = await dependencyHealth(ready.deps);
    return { ...deps, ok: deps.ok && state === 'RUNNING', worker: state };
  };
  const metricsServer = workerPort > 0 ? await startMetricsServer({ port: workerPort, token, registries: [registry], health }) : null;
  const database = createDatabase(config.databaseUrl, { max: config.databasePoolSize, preparedStatements: config.databasePreparedStatements, asyncStatusCommits: config.databaseAsyncStatusCommits });
  await migrateDatabase(database);
  const temporal = await connectTemporalClient(config.temporal);
  await ensureSearchAttributes(temporal, config.temporal.namespace, logger);
  await ensureReconcileSchedule(temporal, { taskQueue: config.temporal.taskQueue, everySeconds: config.reconcileSweepSeconds, logger });
  const wakeRetries = new WakeRetryQueue({ temporal, logger }, config.wakeRetry);
  // One LISTEN connection for the process's dial sessions; a shutdown ends their waits at once
  // (the Runtime drains the worker on the same signals).
  const slotWaits = startSlotWaits(config.databaseUrl, logger);
  await slotWaits.ready;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void slotWaits.stop());
  const workerOptions = {
    connection: await connectWorkerConnection(config.temporal),
    namespace: config.temporal.namespace,
    taskQueue: config.temporal.taskQueue,
    deps: {
      database,
      temporal,
      telephony: createTelephonyClient(config.twilio),
      logger,
      wakeRuns: createWakeRuns({ database, temporal, logger, retries: wakeRetries, pendingSeconds: config.wakePendingSeconds }),
      slotWaits,
      config,
    },
  };
  // Bundled in a child process unless WORKFLOW_BUNDLE_PATH names a prebuilt file: webpack's memory is not kept here.
  const worker = await withWorkflowBundle({ prebuiltPath: config.workflowBundlePath }, (workflowBundle) => createOutdialWorker({ ...workerOptions, workflowBundle }));
  // Webhook delivery on a pool of its own (never the dialing path's connections); 0 concurrency: none here.
  const webhooks = config.webhooks.concurrency > 0 ? startWebhookDispatcher({ databaseUrl: config.databaseUrl, settings: config.webhooks, logger, onAttempt: ({ result }) => webhookDeliveries.inc({ result }) }) : null;
  await webhooks?.ready;
  // Runtime handles SIGINT/SIGTERM: the worker drains, then run() resolves.
  const running = worker.run();
  ready = { worker, deps: { database, temporal } };
  logger.info(
    { taskQueue: config.temporal.taskQueue, temporal: config.temporal.address, metricsPort: workerPort || null, temporalMetrics },
    'worker started',
  );
  await running;
  await webhooks?.stop();
  await wakeRetries.stop();
  await slotWaits.stop();
  await database.close();
  await temporal.connection.close();
  await metricsServer?.close();
  logger.info('worker stopped');
});
