import { randomUUID } from 'node:crypto';
import http from 'node:http';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import type { Worker } from '@temporalio/worker';
import { defaultPayloadConverter } from '@temporalio/common';
import pino from 'pino';
import { createApp, type ApiDeps } from '../../src/api/app';
import { startSlotWaits } from '../../src/calls/slot-waits';
import { createWakeRuns, WakeRetryQueue } from '../../src/calls/wake-runs';
import type { Config } from '../../src/config';
import { createDatabase, type Database } from '../../src/db/client';
import { forEachLine } from '../../src/dev/log-lines';
import { spawnManaged, type ManagedProcess } from '../../src/dev/processes';
import { startSandboxCarrier, type SandboxCarrier } from '../../src/sandbox-carrier';
import { startRunEventsHub, type RunEventsHub } from '../../src/live/run-events-hub';
import { createTelephonyClient } from '../../src/telephony/client';
import { createOutdialWorker, type CreateWorkerOptions } from '../../src/temporal/create-worker';
import { startWebhookDispatcher, type WebhookDispatcher, type WebhookDispatcherDeps } from '../../src/webhooks/dispatcher';
import { progressQuery, type BulkCallRunResult, type DialPassSummary } from '../../src/workflows/messages';
import { testDatabaseUrl } from './db';
import { connectTestTemporal, testTemporalAddress, workflowBundle } from './temporal';

const ROOT = path.resolve(__dirname, '../..');

/**
 * For fault tests: runs re-check every 2 s when no signal comes, calls quiet for 1 s are
 * reconciled, and calls last long enough (~170 ms) to be cut off mid-way.
 */
export const FAST_RECOVERY = {
  wakeFallbackSeconds: 2,
  reconcileAfterSeconds: 1,
  carrier: { defaultScript: { dialMs: 2, ringMs: 20, talkMs: 150 } },
} satisfies OutdialTestStackOptions;

export type CarrierOptions = NonNullable<Parameters<typeof startSandboxCarrier>[0]>;

export interface OutdialTestStackOptions {
  carrier?: CarrierOptions;
  /** Fallback timer of each run; tests that prove signal-driven refill set it far beyond the test. */
  wakeFallbackSeconds?: number;
  runContinueAsNew?: ApiDeps['config']['runContinueAsNew'];
  /** How long a request to the carrier may take before its outcome counts as unknown. */
  telephonyTimeoutMs?: number;
  /** Seconds without news after which an active call is checked with the carrier. */
  reconcileAfterSeconds?: number;
  reconcileFirstCheckSeconds?: number;
  reconcileQuietCallSeconds?: number;
  heldCallAfterChecks?: number;
  /** A migrated database of the test's own (e.g. one it restarts); default: the suite's. */
  databaseUrl?: string;
  /** A Temporal server of the test's own (e.g. one it restarts); default: the suite's. */
  temporalAddress?: string;
  /** Requests per minute per API key; default: no limit. */
  rateLimitPerMinute?: number;
  /** Seconds a committed run may stay pending before the sweep starts it; default 10. */
  stalledRunAfterSeconds?: number;
  /** The dial pass's Temporal timeouts (DIAL_PASS_TIMEOUT_SECONDS, DIAL_PASS_HEARTBEAT_SECONDS); default 45 and 5. */
  dialPass?: { timeoutSeconds?: number; heartbeatSeconds?: number; local?: boolean; sessionSeconds?: number };
  /** Outdial's pace for the carrier account (TWILIO_CALLS_PER_SECOND); default 0, unpaced. */
  callsPerSecond?: number;
  /** Run event streams (EVENTS_HEARTBEAT_SECONDS, EVENTS_PROGRESS_INTERVAL_MS); default 15 s and 250 ms. */
  liveEvents?: Partial<Config['liveEvents']>;
}

export interface ApiCallOptions {
  /** The bearer key; default: the stack's admin key; null: no Authorization header. */
  key?: string | null;
  headers?: Record<string, string>;
}

/**
 * Outdial in one test process on the suite's real Temporal and Postgres: the API on a random port
 * (which is also the public host callbacks come to), a sandbox carrier, and workers on a task queue
 * of this stack's own.
 */
export class OutdialTestStack {
  /** Every log line the API and in-process workers wrote, parsed: tests assert what operators see. */
  readonly logs: { msg: string; [key: string]: unknown }[] = [];
  readonly logger = pino(
    { level: 'info' },
    {
      write: (line: string) => {
        this.logs.push(JSON.parse(line) as { msg: string });
        if (process.env.TEST_LOG) process.stdout.write(line);
      },
    },
  );
  readonly taskQueue = `test-${randomUUID()}`;
  /** This stack's admin key (configuration's OUTDIAL_ADMIN_KEYS). */
  readonly adminKey = `test-admin-${randomUUID()}`;
  private workers: { worker: Worker; running: Promise<void> }[] = [];
  private webhookDispatchers: WebhookDispatcher[] = [];

  private constructor(
    readonly database: Database,
    readonly temporal: Awaited<ReturnType<typeof connectTestTemporal>>,
    readonly carrier: SandboxCarrier,
    readonly server: http.Server,
    readonly apiUrl: string,
    readonly config: ApiDeps['config'],
    readonly databaseUrl: string,
    readonly temporalAddress: string,
  ) {
    this.wakeRetries = new WakeRetryQueue({ temporal: temporal.client, logger: this.logger });
    this.wakeRunsNow = createWakeRuns({ database, temporal: temporal.client, logger: this.logger, retries: this.wakeRetries });
  }

  /** The API's run event hub: one LISTEN connection, as in an API process (set in start()). */
  runEvents!: RunEventsHub;
  /** The `application_name` of the hub's LISTEN connection (pg_stat_activity). */
  readonly runEventsListenerName = `run-events-${randomUUID()}`;

  static async start(opts: OutdialTestStackOptions = {}): Promise<OutdialTestStack> {
    const databaseUrl = opts.databaseUrl ?? testDatabaseUrl();
    const database = createDatabase(databaseUrl, { max: 5 });
    const temporalAddress = opts.temporalAddress ?? testTemporalAddress();
    const temporal = await connectTestTemporal(temporalAddress);
    const carrier = await startSandboxCarrier({ port: 0, ...opts.carrier });
    const server = http.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    const apiUrl = `http://127.0.0.1:${port}`;
    const config: ApiDeps['config'] = {
      env: 'test',
      port,
      publicHost: { configured: apiUrl, platform: {} },
      twilio: { accountSid: carrier.accountSid, authToken: carrier.authToken, apiBaseUrl: carrier.url, callsPerSecond: opts.callsPerSecond ?? 0, requestTimeoutMs: opts.telephonyTimeoutMs ?? 10_000, httpClient: 'node', ringingCallbacks: false },
      temporal: { address: '', namespace: 'default', taskQueue: '', tls: false },
      runWakeFallbackSeconds: opts.wakeFallbackSeconds ?? 30,
      runKeptOpenWaitSeconds: 600,
      dialPass: { timeoutSeconds: 45, heartbeatSeconds: 5, local: false, sessionSeconds: 30, ...opts.dialPass },
      reconcileAfterSeconds: opts.reconcileAfterSeconds ?? 120,
      reconcileFirstCheckSeconds: opts.reconcileFirstCheckSeconds ?? 5,
      reconcileQuietCallSeconds: opts.reconcileQuietCallSeconds ?? 20,
      callbackReplayMax: 10_000,
      heldCallAfterChecks: opts.heldCallAfterChecks ?? 10,
      stalledRunAfterSeconds: opts.stalledRunAfterSeconds ?? 10,
      queuedJobsEndBatch: 5_000,
      adminKeys: [],
      apiRateLimitPerMinute: opts.rateLimitPerMinute ?? 0,
      metrics: { apiEnabled: true, workerPort: 0, temporalAddress: null },
      temporalUiUrl: 'http://localhost:8233',
      ...(opts.runContinueAsNew ? { runContinueAsNew: opts.runContinueAsNew } : {}),
    };
    const stack = new OutdialTestStack(database, temporal, carrier, server, apiUrl, config, databaseUrl, temporalAddress);
    // Its LISTEN connection is named after the stack, so a test can find (and cut) this stack's own.
    const listenUrl = new URL(databaseUrl);
    listenUrl.searchParams.set('application_name', stack.runEventsListenerName);
    stack.runEvents = startRunEventsHub({ database, databaseUrl: listenUrl.toString(), logger: stack.logger, heartbeatSeconds: 15, progressIntervalMs: 250, ...opts.liveEvents });
    config.temporal.taskQueue = stack.taskQueue;
    config.adminKeys.push(stack.adminKey);
    server.on('request', createApp(stack.deps()));
    return stack;
  }

  /** Wake-ups still in flight: stop() waits for them before it closes the Temporal connection. */
  private readonly pendingWakeUps = new Set<Promise<number>>();

  /** Wake-ups Temporal did not answer, retried as the API and workers do. */
  readonly wakeRetries: WakeRetryQueue;
  private readonly wakeRunsNow: ApiDeps['wakeRuns'];

  readonly wakeRuns: ApiDeps['wakeRuns'] = (businessId, request) => {
    const wake = this.wakeRunsNow(businessId, request);
    this.pendingWakeUps.add(wake);
    void wake.finally(() => this.pendingWakeUps.delete(wake)).catch(() => undefined);
    return wake;
  };

  deps(): ApiDeps {
    return {
      database: this.database,
      temporal: this.temporal.client,
      telephony: createTelephonyClient(this.config.twilio),
      logger: this.logger,
      wakeRuns: this.wakeRuns,
      config: this.config,
      runEvents: this.runEvents,
    };
  }

  /**
   * Starts an in-process worker; `config` overrides what its activities see (e.g. no public host);
   * `workflowCode`: a bundle of the test's own (default: the process's shared one).
   */
  async startWorker(config: Partial<Pick<Config, 'publicHost' | 'env' | 'reconcileAfterSeconds'>> = {}, workflowCode?: CreateWorkerOptions['workflowBundle']): Promise<Worker> {
    const deps = this.deps();
    // Each worker its own freed-slot waits, as each worker process has; its shutdown ends them first.
    const slotWaits = startSlotWaits(this.databaseUrl, this.logger);
    await slotWaits.ready;
    const worker = await createOutdialWorker({
      connection: this.temporal.nativeConnection,
      namespace: 'default',
      taskQueue: this.taskQueue,
      workflowBundle: workflowCode ?? (await workflowBundle()),
      deps: { ...deps, slotWaits, config: { ...deps.config, ...config } },
    });
    const shutdown = worker.shutdown.bind(worker);
    worker.shutdown = () => {
      void slotWaits.stop();
      shutdown();
    };
    this.workers.push({ worker, running: worker.run() });
    return worker;
  }

  /**
   * What the run's dial pass last reported: a session in progress says it on its heartbeats (the
   * Web UI's pending activity), a finished pass in the run's progress query.
   */
  async latestPass(workflowId: string): Promise<DialPassSummary | null> {
    const handle = this.temporal.client.workflow.getHandle(workflowId);
    const details = (await handle.describe()).raw.pendingActivities?.find((a) => a.activityType?.name === 'dialAvailableSlots')?.heartbeatDetails?.payloads?.[0];
    if (details) return defaultPayloadConverter.fromPayload(details) as DialPassSummary | null;
    return (await handle.query(progressQuery)).lastPass;
  }

  /** Starts an in-process webhook dispatcher (what each worker process runs), stopped by `stop()`. */
  async startWebhookDispatcher(settings: Partial<WebhookDispatcherDeps['settings']> = {}, onAttempt?: WebhookDispatcherDeps['onAttempt']): Promise<WebhookDispatcher> {
    const dispatcher = startWebhookDispatcher({
      databaseUrl: this.databaseUrl,
      settings: { ...TEST_WEBHOOK_SETTINGS, ...settings },
      logger: this.logger,
      ...(onAttempt ? { onAttempt } : {}),
    });
    this.webhookDispatchers.push(dispatcher);
    await dispatcher.ready;
    return dispatcher;
  }

  async api<T = Record<string, unknown>>(method: string, path: string, body?: unknown, opts: ApiCallOptions = {}): Promise<{ status: number; body: T; headers: Headers }> {
    const key = opts.key === undefined ? this.adminKey : opts.key;
    const res = await fetch(this.apiUrl + path, {
      method,
      headers: {
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(key === null ? {} : { authorization: `Bearer ${key}` }),
        ...opts.headers,
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : {}) as T, headers: res.headers };
  }

  /** A business that calls around the clock (tests run at any hour; window tests set their own). */
  async createBusiness(opts: { maxConcurrentCalls?: number; callerId?: string } = {}): Promise<{ id: string; callerId: string }> {
    // A distinct caller ID per business, so the carrier's per-number peak is this business's alone.
    const callerId = opts.callerId ?? nextCallerId();
    const res = await this.api<{ business: { id: string; callerId: string } }>('POST', '/v1/businesses', {
      name: 'Test business',
      callerId,
      callingWindow: { alwaysOpen: true },
      ...(opts.maxConcurrentCalls ? { maxConcurrentCalls: opts.maxConcurrentCalls } : {}),
    });
    if (res.status !== 201) throw new Error(`createBusiness: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body.business;
  }

  async createRun(businessId: string, phones: string[], opts: ApiCallOptions & { allowDuplicates?: boolean } = {}): Promise<{ id: string; workflowId: string }> {
    const { allowDuplicates, ...call } = opts;
    const res = await this.api<{ run: { id: string; workflowId: string } }>(
      'POST',
      `/v1/businesses/${businessId}/runs`,
      { leads: phones.map((phone, i) => ({ phone, name: `Lead ${i + 1}` })), ...(allowDuplicates ? { allowDuplicates } : {}) },
      call,
    );
    if (res.status !== 201) throw new Error(`createRun: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body.run;
  }

  /** Waits for the run's workflow to end (an event, not a poll) and returns the run as the API shows it. */
  async runResult(run: { id: string; workflowId: string }) {
    const result = (await this.temporal.client.workflow.getHandle(run.workflowId).result()) as BulkCallRunResult;
    return { ...(await this.getRun(run.id)), result };
  }

  async getRun(runId: string): Promise<RunView> {
    return (await this.api<{ run: RunView }>('GET', `/v1/runs/${runId}`)).body.run;
  }

  /**
   * Starts `src/worker.ts` (or `opts.entry`, e.g. the compiled worker) as its own OS process on this
   * stack's task queue, with `opts.env` added; resolves once it polls.
   */
  async startWorkerProcess(opts: { entry?: string; env?: NodeJS.ProcessEnv } = {}): Promise<ManagedProcess> {
    const { entry, env = {} } = opts;
    // Node itself with tsx's loader, not the tsx wrapper: a signal sent to the child reaches the worker
    // (the wrapper does not pass SIGKILL on, which left killed workers running).
    const args = entry ? [entry] : ['--import', 'tsx', path.join(ROOT, 'src/worker.ts')];
    const proc = spawnManaged(process.execPath, args, {
      cwd: ROOT,
      env: { ...this.workerProcessEnv(), LOG_LEVEL: 'info', ...env },
    });
    await new Promise<void>((resolve, reject) => {
      let stderr = '';
      forEachLine(proc.child.stdout, (line) => {
        if (line.includes('worker started')) resolve();
      });
      forEachLine(proc.child.stderr, (line) => (stderr += `${line}\n`));
      void proc.exited.then((code) => reject(new Error(`worker process exited (${code}): ${stderr}`)));
    });
    return proc;
  }

  /** Environment for a worker in another OS process (`src/worker.ts`), pointed at this stack. */
  workerProcessEnv(): NodeJS.ProcessEnv {
    return {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      OUTDIAL_ENV: 'test',
      LOG_LEVEL: 'warn',
      DATABASE_URL: this.databaseUrl,
      TEMPORAL_ADDRESS: this.temporalAddress,
      TEMPORAL_TASK_QUEUE: this.taskQueue,
      PUBLIC_HOST: this.apiUrl,
      TWILIO_ACCOUNT_SID: this.carrier.accountSid,
      TWILIO_AUTH_TOKEN: this.carrier.authToken,
      TWILIO_API_BASE_URL: this.carrier.url,
      RECONCILE_AFTER_SECONDS: String(this.config.reconcileAfterSeconds),
      RECONCILE_FIRST_CHECK_SECONDS: String(this.config.reconcileFirstCheckSeconds),
      RECONCILE_QUIET_CALL_SECONDS: String(this.config.reconcileQuietCallSeconds),
      STALLED_RUN_AFTER_SECONDS: String(this.config.stalledRunAfterSeconds),
      TWILIO_CALLS_PER_SECOND: String(this.config.twilio.callsPerSecond),
      TWILIO_REQUEST_TIMEOUT_MS: String(this.config.twilio.requestTimeoutMs),
      // Test workers share one Temporal server: no global sweep schedule pointing at a test queue.
      RECONCILE_SWEEP_SECONDS: '0',
      // Worker processes of parallel tests would share the default metrics ports: none unless a test asks.
      WORKER_METRICS_PORT: '0',
      TEMPORAL_METRICS_ADDRESS: 'off',
      // Webhook dispatchers only where a test asks for one (they deliver every business of their database).
      WEBHOOK_CONCURRENCY: '0',
    };
  }

  async stop(): Promise<void> {
    for (const w of this.workers) w.worker.shutdown();
    await Promise.allSettled(this.workers.map((w) => w.running));
    await this.runEvents.stop();
    await Promise.allSettled(this.webhookDispatchers.map((d) => d.stop()));
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
    await this.carrier.stop();
    await Promise.allSettled([...this.pendingWakeUps]);
    await this.wakeRetries.stop();
    await this.temporal.close();
    await this.database.close();
  }
}

/** Webhook settings of test dispatchers: retries within a second, so a test sees several. */
export const TEST_WEBHOOK_SETTINGS: WebhookDispatcherDeps['settings'] = { timeoutMs: 2_000, maxAttempts: 50, retryBaseSeconds: 0.1, retryMaxSeconds: 0.5, concurrency: 5, allowPrivateNetworks: true };

/** Caller IDs handed out in this process: never one twice (a random pick collided now and then). */
let callerIdsHandedOut = Math.floor(Math.random() * 5_000);
function nextCallerId(): string {
  callerIdsHandedOut = (callerIdsHandedOut + 1) % 10_000;
  return `+1650555${String(callerIdsHandedOut).padStart(4, '0')}`;
}

export interface RunView {
  id: string;
  status: string;
  lastError: string | null;
  jobs: Record<string, number>;
  attempts: number;
  outcomes: Record<string, number>;
  answeredBy: Record<string, number>;
  waiting: { reason: string; until: string | null } | null;
  business: { activeCalls: number; maxConcurrentCalls: number };
  startedAt: string | null;
  finishedAt: string | null;
}

/** n distinct valid US numbers (555-01xx is reserved for fiction; the carrier scripts them by pattern). */
export function leadPhones(n: number, prefix = '+1415555'): string[] {
  return Array.from({ length: n }, (_, i) => `${prefix}${String(1000 + i).slice(-4)}`);
}

/**
 * Re-reads a value every 20 ms until it satisfies `done` (bounded), for state that emits no event to
 * await (a workflow query, an API view); returns the value that did.
 */
export async function pollFor<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** `pollFor` of a condition. */
export async function pollUntil(check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  await pollFor(check, (holds) => holds, timeoutMs);
}
