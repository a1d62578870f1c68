import { z } from 'zod';

/**
 * Every environment variable Outdial reads, parsed and validated in one place.
 * A bad or missing value stops the process with one line naming the variable (see `ConfigError`),
 * never a stack trace: entry points call `loadConfig` inside `runMain`.
 */

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    readonly problem: string,
  ) {
    super(`Configuration error: ${variable} ${problem}`);
    this.name = 'ConfigError';
  }
}

const accountSid = z.string().regex(/^AC[0-9a-fA-F]{32}$/, 'must be a Twilio account SID: "AC" followed by 32 hex digits');
const port = z.coerce.number().int().min(1).max(65535);
const hostPort = z.string().regex(/^[A-Za-z0-9.\-[\]:]+:\d{1,5}$/, 'must be host:port, for example 127.0.0.1:7233');
const httpUrl = z.string().refine((v) => {
  try {
    const u = new URL(v);
    return u.protocol === 'http:' || u.protocol === 'https:';
  } catch {
    return false;
  }
}, 'must be an http(s) URL');
const postgresUrl = z.string().refine((v) => {
  try {
    const u = new URL(v);
    return u.protocol === 'postgres:' || u.protocol === 'postgresql:';
  } catch {
    return false;
  }
}, 'must be a postgres:// URL, for example postgres://user:pass@host:5432/outdial');

/** One entry per variable: its schema and the hint printed when it is missing or malformed. */
const variables = {
  OUTDIAL_ENV: {
    schema: z.enum(['development', 'test', 'production']).default('production'),
    hint: 'set it to development, test or production',
  },
  DATABASE_URL: { schema: postgresUrl, hint: 'set it to the Postgres connection URL (npm start sets it for you)', redact: withoutPassword },
  DATABASE_POOL_SIZE: {
    schema: z.coerce.number().int().min(2).max(1_000).default(10),
    hint: 'set it to how many Postgres connections one API or worker process opens at most (2-1000)',
  },
  DATABASE_PREPARED_STATEMENTS: {
    schema: z.enum(['true', 'false']).default('true'),
    hint: 'set it to true to prepare each statement once per Postgres connection, false behind a connection pooler that cannot keep prepared statements',
  },
  DATABASE_ASYNC_STATUS_COMMITS: {
    schema: z.enum(['true', 'false']).default('true'),
    hint: "set it to true to commit a call's status changes without waiting for the WAL flush, false to wait",
  },
  TEMPORAL_ADDRESS: { schema: hostPort.default('127.0.0.1:7233'), hint: 'set it to the Temporal frontend, host:port' },
  TEMPORAL_NAMESPACE: { schema: z.string().min(1).default('default'), hint: 'set it to a Temporal namespace' },
  TEMPORAL_TASK_QUEUE: { schema: z.string().min(1).default('outdial'), hint: 'set it to the task queue name' },
  TEMPORAL_API_KEY: { schema: z.string().min(1).optional(), hint: 'set it to a Temporal Cloud API key, or unset it', redact: hidden },
  TEMPORAL_TLS: { schema: z.enum(['true', 'false']).default('false'), hint: 'set it to true or false' },
  PORT: { schema: port.default(3000), hint: 'set it to the API port, 1-65535' },
  PUBLIC_HOST: {
    schema: z
      .string()
      .min(1)
      .refine((v) => parsePublicHost(v) !== null, 'must be a host name or URL, for example https://calls.example.com')
      .optional(),
    hint: 'set it to the public base URL Twilio can reach, for example https://calls.example.com',
  },
  TWILIO_ACCOUNT_SID: { schema: accountSid, hint: 'set it to your Twilio account SID (npm start sets a sandbox one)' },
  TWILIO_AUTH_TOKEN: { schema: z.string().min(8), hint: 'set it to your Twilio auth token (at least 8 characters)', redact: hidden },
  OUTDIAL_ADMIN_KEYS: {
    schema: z
      .string()
      .transform((v) => v.split(',').map((k) => k.trim()).filter((k) => k.length > 0))
      .refine((keys) => keys.length > 0 && keys.every((k) => k.length >= 32 && /^[\x21-\x7e]+$/.test(k)), 'each key must be at least 32 printable characters, no spaces')
      .optional(),
    hint: 'set it to one or more admin API keys, comma-separated (at least 32 characters each; e.g. openssl rand -hex 32); several let a key be rotated with an overlap',
    redact: hidden,
  },
  API_RATE_LIMIT_PER_MINUTE: {
    schema: z.coerce.number().int().min(0).max(1_000_000).default(1200),
    hint: 'set it to the requests per minute one API key may make to one API process, or 0 for no limit',
  },
  TWILIO_API_BASE_URL: {
    schema: httpUrl.optional(),
    hint: 'set it to a Twilio-compatible base URL such as http://127.0.0.1:3100, or unset it for real Twilio',
  },
  TWILIO_CALLS_PER_SECOND: {
    schema: z.coerce.number().int().min(0).max(10_000).default(1),
    hint: "set it to the Twilio account's calls per second (Twilio's default is 1; 0 turns pacing off)",
  },
  TWILIO_REQUEST_TIMEOUT_MS: {
    schema: z.coerce.number().int().min(1_000).max(120_000).default(10_000),
    hint: 'set it to the milliseconds a request to the carrier may take before its outcome counts as unknown (1000-120000)',
  },
  TWILIO_HTTP_CLIENT: {
    schema: z.enum(['node', 'sdk']).default('node'),
    hint: "set it to node (the SDK's requests sent with node:http) or sdk (the SDK's own axios client)",
  },
  TWILIO_RINGING_CALLBACKS: {
    schema: z.enum(['true', 'false']).default('false'),
    hint: "set it to true to subscribe to the carrier's ringing callbacks (calls then show ringing), false for answered and completed only",
  },
  LOG_LEVEL: {
    schema: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    hint: 'set it to one of fatal, error, warn, info, debug, trace, silent',
  },
  RECONCILE_AFTER_SECONDS: {
    schema: z.coerce.number().positive().max(86_400).default(120),
    hint: 'set it to the longest wait, in seconds, between two checks with the carrier of an active call without news (0 < n <= 86400)',
  },
  CALLBACK_REPLAY_MAX: {
    schema: z.coerce.number().int().min(0).max(1_000_000).default(10_000),
    hint: 'set it to how many carrier callbacks answered 503 during an outage one API process keeps to handle once its servers answer again, or 0 for none (0-1000000)',
  },
  RECONCILE_ON_API_START: {
    schema: z.enum(['true', 'false']).default('true'),
    hint: 'set it to true to check every quiet active call with the carrier when an API process starts (callbacks may have been refused while none was up), false to leave them to their schedule',
  },
  RECONCILE_QUIET_CALL_SECONDS: {
    schema: z.coerce.number().positive().max(3_600).default(20),
    hint: 'set it to the seconds a live call may go without a callback before the carrier is first asked about it; each later check waits twice as long, up to RECONCILE_AFTER_SECONDS (0 < n <= 3600)',
  },
  RECONCILE_FIRST_CHECK_SECONDS: {
    schema: z.coerce.number().positive().max(3_600).default(5),
    hint: 'set it to the seconds after a dial with an unknown outcome before the carrier is first asked about it; each later check waits twice as long, up to RECONCILE_AFTER_SECONDS (0 < n <= 3600)',
  },
  HELD_CALL_AFTER_CHECKS: {
    schema: z.coerce.number().int().min(1).max(1_000_000).default(10),
    hint: 'set it to how many checks with the carrier in a row may learn nothing (unreachable, no call found) before an active call is listed as held for an operator (GET /v1/held-calls), at least 1',
  },
  RECONCILE_SWEEP_SECONDS: {
    schema: z.coerce.number().int().min(0).max(86_400).default(60),
    hint: 'set it to how often (seconds) the reconciliation sweep runs over every business, or 0 to turn it off',
  },
  STALLED_RUN_AFTER_SECONDS: {
    schema: z.coerce.number().min(0).max(86_400).default(10),
    hint: 'set it to the seconds a committed run may stay pending before the sweep starts its workflow (0 <= n <= 86400)',
  },
  QUEUED_JOBS_END_BATCH: {
    schema: z.coerce.number().int().min(100).max(100_000).default(5_000),
    hint: "set it to how many of a run's queued jobs a cancel or a passed stopAt ends per transaction (100-100000)",
  },
  API_METRICS_ENABLED: {
    schema: z.enum(['true', 'false']).default('true'),
    hint: 'set it to true (the API serves GET /metrics) or false',
  },
  METRICS_TOKEN: {
    schema: z.string().min(16).regex(/^[\x21-\x7e]+$/, 'must be printable characters, no spaces').optional(),
    hint: 'set it to a secret of at least 16 characters that scrapes must send as a bearer token, or unset it for open /metrics',
    redact: hidden,
  },
  WORKER_METRICS_PORT: {
    schema: z.coerce.number().int().min(0).max(65535).default(9464),
    hint: "set it to the port of the worker's /metrics, 1-65535, or 0 for none",
  },
  TEMPORAL_METRICS_ADDRESS: {
    schema: z.union([z.literal('off'), hostPort]).default('0.0.0.0:9465'),
    hint: "set it to host:port for the Temporal SDK's Prometheus endpoint of the worker (e.g. 0.0.0.0:9465), or off",
  },
  TEMPORAL_UI_URL: {
    schema: httpUrl.default('http://localhost:8233'),
    hint: 'set it to the Temporal Web UI base URL the run page links to, for example http://localhost:8233',
  },
  EVENTS_HEARTBEAT_SECONDS: {
    schema: z.coerce.number().positive().max(3_600).default(15),
    hint: 'set it to how often (seconds) an idle event stream gets a comment frame that keeps proxies from closing it (0 < n <= 3600)',
  },
  EVENTS_PROGRESS_INTERVAL_MS: {
    schema: z.coerce.number().int().min(0).max(60_000).default(250),
    hint: "set it to the fewest milliseconds between two progress frames of a run's event stream (0-60000)",
  },
  DIAL_PASS_TIMEOUT_SECONDS: {
    schema: z.coerce.number().int().min(5).max(600).default(45),
    hint: 'set it to the seconds one dial pass (claim and dial) may take before Temporal retries it elsewhere (5-600)',
  },
  DIAL_SESSION_SECONDS: {
    schema: z.coerce.number().int().min(0).max(300).default(30),
    hint: 'set it to the seconds a dial pass keeps dialing the slots its business frees before it hands back to its workflow (0-300; 0: a pass dials once)',
  },
  DIAL_PASS_LOCAL_ACTIVITY: {
    schema: z.enum(['true', 'false']).default('false'),
    hint: 'set it to true to run dial passes as local activities (one workflow task per pass), false to run them as regular activities',
  },
  DIAL_PASS_HEARTBEAT_SECONDS: {
    schema: z.coerce.number().int().min(2).max(60).default(5),
    hint: "set it to the seconds without a dial pass's heartbeat after which its worker counts as dead and the pass is retried (2-60)",
  },
  RUN_WAKE_FALLBACK_SECONDS: {
    schema: z.coerce.number().positive().max(86_400).default(30),
    hint: 'set it to the seconds a run waits for a wake-up signal before it re-checks on its own (0 < n <= 86400)',
  },
  RUN_KEPT_OPEN_WAIT_SECONDS: {
    schema: z.coerce.number().positive().max(86_400).default(600),
    hint: 'set it to the seconds a run kept open with nothing left waits before it re-checks on its own (0 < n <= 86400)',
  },
  WAKE_PENDING_SECONDS: {
    schema: z.coerce.number().positive().max(3_600).default(2),
    hint: "set it to the seconds a run woken for a freed slot keeps that slot before its claim has run (0 < n <= 3600)",
  },
  WAKE_RETRY_MAX_INTERVAL_MS: {
    schema: z.coerce.number().int().min(100).max(60_000).default(1_000),
    hint: 'set it to the longest milliseconds between two retries of a wake-up signal Temporal did not answer (100-60000)',
  },
  WAKE_RETRY_MAX_PENDING: {
    schema: z.coerce.number().int().min(0).max(1_000_000).default(10_000),
    hint: 'set it to how many undelivered wake-up signals a process keeps for a retry (0-1000000; 0: none, the fallback timer covers them)',
  },
  WEBHOOK_TIMEOUT_MS: {
    schema: z.coerce.number().int().min(100).max(120_000).default(10_000),
    hint: 'set it to the milliseconds a webhook receiver has to answer before the attempt counts as failed (100-120000)',
  },
  WEBHOOK_MAX_ATTEMPTS: {
    schema: z.coerce.number().int().min(1).max(100).default(10),
    hint: 'set it to how many attempts a webhook delivery gets before it is marked failed (1-100)',
  },
  WEBHOOK_RETRY_BASE_SECONDS: {
    schema: z.coerce.number().positive().max(3_600).default(5),
    hint: 'set it to the seconds before the first webhook retry; each later one waits 5 times longer (0 < n <= 3600)',
  },
  WEBHOOK_RETRY_MAX_SECONDS: {
    schema: z.coerce.number().positive().max(86_400).default(21_600),
    hint: 'set it to the longest wait between two webhook attempts, in seconds (0 < n <= 86400)',
  },
  WEBHOOK_CONCURRENCY: {
    schema: z.coerce.number().int().min(0).max(1_000).default(10),
    hint: 'set it to how many webhook deliveries one worker process sends at once, or 0 for none in this process (0-1000)',
  },
  WORKFLOW_BUNDLE_PATH: {
    schema: z.string().min(1).optional(),
    hint: 'set it to a workflow bundle written by `npm run bundle:workflows -- <file>`, or unset it to bundle the workflows at start',
  },
  WEBHOOK_ALLOW_PRIVATE_NETWORKS: {
    schema: z.enum(['true', 'false']).optional(),
    hint: 'set it to true to let webhooks reach loopback and private addresses, false to refuse them (default: false in production)',
  },
} as const;

type Vars = typeof variables;
type Parsed = { [K in keyof Vars]: z.output<Vars[K]['schema']> };

/** Platform-provided public domains, in the order they are tried after PUBLIC_HOST. */
export const PLATFORM_HOST_VARIABLES = [
  'RENDER_EXTERNAL_HOSTNAME',
  'RAILWAY_PUBLIC_DOMAIN',
  'HEROKU_APP_DEFAULT_DOMAIN_NAME',
  'VERCEL_URL',
] as const;

export interface Config {
  env: Parsed['OUTDIAL_ENV'];
  databaseUrl: string;
  /** Postgres connections one API or worker process opens at most. */
  databasePoolSize: number;
  databasePreparedStatements: boolean;
  /** A call's status changes commit without waiting for the WAL flush (src/db/queries/calls.ts changeCallStatus). */
  databaseAsyncStatusCommits: boolean;
  temporal: { address: string; namespace: string; taskQueue: string; apiKey?: string; tls: boolean };
  port: number;
  publicHost: { configured?: string; platform: Partial<Record<(typeof PLATFORM_HOST_VARIABLES)[number], string>> };
  /** `callsPerSecond`: creates per second Outdial sends the account, over every process; 0 = unpaced. */
  twilio: { accountSid: string; authToken: string; apiBaseUrl?: string; callsPerSecond: number; requestTimeoutMs: number; httpClient: 'node' | 'sdk'; ringingCallbacks: boolean };
  /** Admin API keys; required in production (several, to rotate one with an overlap). */
  adminKeys: string[];
  /** Requests per minute one key may make to one API process; 0: no limit. */
  apiRateLimitPerMinute: number;
  logLevel: Parsed['LOG_LEVEL'];
  runWakeFallbackSeconds: number;
  /** A run kept open with nothing left re-checks this often on its own (leads added wake it at once). */
  runKeptOpenWaitSeconds: number;
  /** A run woken for a freed slot keeps it this long before its claim runs (src/calls/wake-runs.ts). */
  wakePendingSeconds: number;
  /** Wake-up signals Temporal did not answer are retried in memory (src/calls/wake-runs.ts). */
  wakeRetry: { maxPending: number; maxIntervalMs: number };
  /** Temporal's timeouts of a run's dial pass, whether it is a local activity, and how long it keeps dialing freed slots (src/activities/dial.ts). */
  dialPass: { timeoutSeconds: number; heartbeatSeconds: number; local: boolean; sessionSeconds: number };
  reconcileAfterSeconds: number;
  /** A dial with an unknown outcome is first checked with the carrier this long after it (see src/calls/check-schedule.ts). */
  reconcileFirstCheckSeconds: number;
  /** A live call without a callback for this long is first checked with the carrier (see src/calls/check-schedule.ts). */
  reconcileQuietCallSeconds: number;
  /** Callbacks answered 503 during an outage that one API process keeps to handle afterwards (src/api/callback-replay.ts). */
  callbackReplayMax: number;
  /** An API process's start makes every quiet dialed call due for a check (src/calls/reconcile.ts, checkAfterApiStart). */
  reconcileOnApiStart: boolean;
  /** An active call checked more often than this without news is held for an operator (GET /v1/held-calls). */
  heldCallAfterChecks: number;
  /** A run still pending this long after its commit lost its workflow start: the sweep starts it. */
  stalledRunAfterSeconds: number;
  /** A cancel or a passed stopAt ends a run's queued jobs this many per transaction. */
  queuedJobsEndBatch: number;
  /** How often the Temporal Schedule sweeps every business; 0: no schedule. */
  reconcileSweepSeconds: number;
  /**
   * Prometheus endpoints (README, Metrics): the API's `/metrics` (`apiEnabled`), the worker's own
   * port (0: none) and the Temporal SDK's exporter in the worker (null: none); `token`, when set, is
   * required of every scrape of Outdial's endpoints.
   */
  metrics: { apiEnabled: boolean; token?: string; workerPort: number; temporalAddress: string | null };
  /** The Temporal Web UI the run page links a run's workflow to. */
  temporalUiUrl: string;
  /** Run event streams: a heartbeat comment this often; at most one progress frame per run per interval. */
  liveEvents: { heartbeatSeconds: number; progressIntervalMs: number };
  /** Webhook delivery by each worker process (src/webhooks/dispatcher.ts). */
  webhooks: WebhookSettings;
  /** A prebuilt workflow bundle the worker loads; unset: it bundles at start (src/temporal/workflow-bundle.ts). */
  workflowBundlePath?: string;
}

export interface WebhookSettings {
  timeoutMs: number;
  maxAttempts: number;
  /** Seconds before the first retry; each next waits 5 times longer, up to `retryMaxSeconds`, with jitter. */
  retryBaseSeconds: number;
  retryMaxSeconds: number;
  /** Deliveries in flight at once per process; 0: this process delivers none. */
  concurrency: number;
  /** Whether a webhook may reach loopback, private and link-local addresses (never, by default, in production). */
  allowPrivateNetworks: boolean;
}

export interface EnvVariable {
  schema: z.ZodType;
  /** What to set, printed after the problem: "set it to …". */
  hint: string;
  /** A secret's value as it may be printed when malformed (a URL without its password), or null: never. */
  redact?: (value: string) => string | null;
}

/** A secret: its value is never printed, not even when it is malformed. */
function hidden(): null {
  return null;
}

/** A URL as it may be printed: its password replaced. */
function withoutPassword(value: string): string {
  try {
    const u = new URL(value);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return value.replace(/:[^:@/]*@/, ':***@');
  }
}

/**
 * Parses one environment variable (empty counts as unset). The one parser every process's
 * configuration uses, so a bad value always reads the same way and names its variable.
 */
export function parseEnvVariable(name: string, variable: EnvVariable, env: NodeJS.ProcessEnv): unknown {
  const raw = env[name];
  const value = raw === '' ? undefined : raw;
  const result = variable.schema.safeParse(value);
  if (result.success) return result.data;
  if (value === undefined) throw new ConfigError(name, `is missing: ${variable.hint}`);
  throw invalidValue(name, variable, value, result.error.issues[0]?.message ?? 'is invalid');
}

function invalidValue(name: string, variable: EnvVariable, value: string, reason: string): ConfigError {
  const printable = variable.redact ? variable.redact(value) : value;
  const shown = printable === null ? '(value hidden)' : `(${JSON.stringify(printable)})`;
  return new ConfigError(name, `is invalid ${shown}: ${reason}; ${variable.hint}`);
}

/** A setting that parsed but fails where it is used (e.g. a file that is not there), reported like a malformed one. */
export function unusableSetting(name: keyof Vars, value: string, reason: string): ConfigError {
  return invalidValue(name, variables[name], value, reason);
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const v = <K extends keyof Vars>(name: K): Parsed[K] => parseEnvVariable(name, variables[name], env) as Parsed[K];
  const platform: Config['publicHost']['platform'] = {};
  for (const name of PLATFORM_HOST_VARIABLES) if (env[name]) platform[name] = env[name];
  const apiKey = v('TEMPORAL_API_KEY');
  const apiBaseUrl = v('TWILIO_API_BASE_URL');
  const configuredHost = v('PUBLIC_HOST');
  const metricsToken = v('METRICS_TOKEN');
  const temporalMetrics = v('TEMPORAL_METRICS_ADDRESS');
  const workflowBundlePath = v('WORKFLOW_BUNDLE_PATH');
  return {
    env: v('OUTDIAL_ENV'),
    databaseUrl: v('DATABASE_URL'),
    databasePoolSize: v('DATABASE_POOL_SIZE'),
    databasePreparedStatements: v('DATABASE_PREPARED_STATEMENTS') === 'true',
    databaseAsyncStatusCommits: v('DATABASE_ASYNC_STATUS_COMMITS') === 'true',
    temporal: {
      address: v('TEMPORAL_ADDRESS'),
      namespace: v('TEMPORAL_NAMESPACE'),
      taskQueue: v('TEMPORAL_TASK_QUEUE'),
      ...(apiKey ? { apiKey } : {}),
      tls: v('TEMPORAL_TLS') === 'true' || apiKey !== undefined,
    },
    port: v('PORT'),
    publicHost: { ...(configuredHost ? { configured: configuredHost } : {}), platform },
    twilio: {
      accountSid: v('TWILIO_ACCOUNT_SID'),
      authToken: v('TWILIO_AUTH_TOKEN'),
      callsPerSecond: v('TWILIO_CALLS_PER_SECOND'),
      requestTimeoutMs: v('TWILIO_REQUEST_TIMEOUT_MS'),
      httpClient: v('TWILIO_HTTP_CLIENT'),
      ringingCallbacks: v('TWILIO_RINGING_CALLBACKS') === 'true',
      ...(apiBaseUrl ? { apiBaseUrl: apiBaseUrl.replace(/\/+$/, '') } : {}),
    },
    adminKeys: v('OUTDIAL_ADMIN_KEYS') ?? [],
    apiRateLimitPerMinute: v('API_RATE_LIMIT_PER_MINUTE'),
    logLevel: v('LOG_LEVEL'),
    runWakeFallbackSeconds: v('RUN_WAKE_FALLBACK_SECONDS'),
    runKeptOpenWaitSeconds: v('RUN_KEPT_OPEN_WAIT_SECONDS'),
    wakePendingSeconds: v('WAKE_PENDING_SECONDS'),
    wakeRetry: { maxPending: v('WAKE_RETRY_MAX_PENDING'), maxIntervalMs: v('WAKE_RETRY_MAX_INTERVAL_MS') },
    dialPass: { timeoutSeconds: v('DIAL_PASS_TIMEOUT_SECONDS'), heartbeatSeconds: v('DIAL_PASS_HEARTBEAT_SECONDS'), local: v('DIAL_PASS_LOCAL_ACTIVITY') === 'true', sessionSeconds: v('DIAL_SESSION_SECONDS') },
    reconcileAfterSeconds: v('RECONCILE_AFTER_SECONDS'),
    reconcileFirstCheckSeconds: v('RECONCILE_FIRST_CHECK_SECONDS'),
    reconcileQuietCallSeconds: v('RECONCILE_QUIET_CALL_SECONDS'),
    callbackReplayMax: v('CALLBACK_REPLAY_MAX'),
    reconcileOnApiStart: v('RECONCILE_ON_API_START') === 'true',
    heldCallAfterChecks: v('HELD_CALL_AFTER_CHECKS'),
    reconcileSweepSeconds: v('RECONCILE_SWEEP_SECONDS'),
    stalledRunAfterSeconds: v('STALLED_RUN_AFTER_SECONDS'),
    queuedJobsEndBatch: v('QUEUED_JOBS_END_BATCH'),
    metrics: {
      apiEnabled: v('API_METRICS_ENABLED') === 'true',
      ...(metricsToken ? { token: metricsToken } : {}),
      workerPort: v('WORKER_METRICS_PORT'),
      temporalAddress: temporalMetrics === 'off' ? null : temporalMetrics,
    },
    temporalUiUrl: v('TEMPORAL_UI_URL').replace(/\/+$/, ''),
    liveEvents: { heartbeatSeconds: v('EVENTS_HEARTBEAT_SECONDS'), progressIntervalMs: v('EVENTS_PROGRESS_INTERVAL_MS') },
    webhooks: {
      timeoutMs: v('WEBHOOK_TIMEOUT_MS'),
      maxAttempts: v('WEBHOOK_MAX_ATTEMPTS'),
      retryBaseSeconds: v('WEBHOOK_RETRY_BASE_SECONDS'),
      retryMaxSeconds: v('WEBHOOK_RETRY_MAX_SECONDS'),
      concurrency: v('WEBHOOK_CONCURRENCY'),
      allowPrivateNetworks: (v('WEBHOOK_ALLOW_PRIVATE_NETWORKS') ?? (v('OUTDIAL_ENV') === 'production' ? 'false' : 'true')) === 'true',
    },
    ...(workflowBundlePath ? { workflowBundlePath } : {}),
  };
}

/** The API serves nobody without an admin key in production (only development may start without one). */
export function requireAdminKeys(config: Pick<Config, 'env' | 'adminKeys'>): void {
  if (config.env === 'production' && config.adminKeys.length === 0) {
    throw new ConfigError('OUTDIAL_ADMIN_KEYS', `is missing: ${variables.OUTDIAL_ADMIN_KEYS.hint}`);
  }
}

/**
 * `PUBLIC_HOST` may be a bare host (`calls.example.com`, https is assumed) or a URL with scheme and
 * port (`http://127.0.0.1:3000`). Returns the base URL without a trailing slash, or null.
 */
export function parsePublicHost(value: string): string | null {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value : `https://${value}`;
  try {
    const u = new URL(withScheme);
    if ((u.protocol !== 'http:' && u.protocol !== 'https:') || !u.hostname || u.hostname.includes('_')) return null;
    if (u.search || u.hash || u.username) return null;
    return `${u.protocol}//${u.host}${u.pathname.replace(/\/+$/, '')}`;
  } catch {
    return null;
  }
}
