/**
 * A stack of real servers for benchmarks that kill and restart parts: embedded Postgres and the
 * Temporal dev server (SQLite) of the bench's own, so each can be stopped and started again on its
 * port; the API and workers as OS processes, so they can be SIGKILLed; the sandbox carrier in this
 * process, so faults can be injected and its calls read. Outdial runs with its defaults except
 * ports, addresses, the sandbox's pace and `env`, and as it ships: compiled (`npm run build`, what
 * the image runs), since a TypeScript loader in the process adds its own thread and memory (~60 MB).
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { forEachLine } from '../../src/dev/log-lines';
import { startEmbeddedPostgres, type EmbeddedPostgresServer } from '../../src/dev/postgres';
import { freePort, MALLOC_ARENA_MAX, spawnManaged, type ManagedProcess } from '../../src/dev/processes';
import { ensureTemporalCli } from '../../src/dev/temporal-cli';
import { startTemporalDevServer, type TemporalDevServer } from '../../src/dev/temporal-server';
import { startSandboxCarrier, type SandboxCarrier, type SandboxCarrierOptions } from '../../src/sandbox-carrier';
import { startRoundRobinProxy } from './round-robin-proxy';

const ROOT = path.resolve(__dirname, '../..');
export const say = (line: string) => process.stderr.write(`${line}\n`);

export interface ProcessStack {
  carrier: SandboxCarrier;
  apiUrl: string;
  adminKey: string;
  postgres: EmbeddedPostgresServer;
  temporal: TemporalDevServer;
  /** The API process started last. */
  api: ManagedProcess;
  /** Every API process started, oldest first. */
  apis: ManagedProcess[];
  /** The running worker processes, oldest first. */
  workers: ManagedProcess[];
  restartPostgres(): Promise<void>;
  restartTemporal(): Promise<void>;
  startApi(): Promise<ManagedProcess>;
  startWorker(): Promise<ManagedProcess>;
  /** SIGKILLs a worker (its own process, no wrapper), waits until it is gone and drops it from `workers`. */
  killWorker(worker: ManagedProcess): Promise<void>;
  /** Stops everything, last started first, and removes the data directory. */
  stop(): Promise<void>;
}

export interface ProcessStackOptions {
  /** Worker processes started with the stack (default 2). */
  workers?: number;
  /** Temporal dev server without its SQLite file (faster; then it cannot be restarted with its workflows). */
  temporalInMemory?: boolean;
  /** API processes started with the stack (default 1); more than one sit behind a round-robin proxy at `apiUrl`. */
  apis?: number;
  /** Settings for the API and workers beyond the defaults (e.g. TWILIO_REQUEST_TIMEOUT_MS). */
  env?: NodeJS.ProcessEnv;
  /** If set, each API and worker process's stdout and stderr go to `<logDir>/<api|worker>-<n>.log` too. */
  logDir?: string;
  /** The sandbox carrier's options (default: no pace, calls of ~350 ms). */
  carrier?: SandboxCarrierOptions;
}

let built: Promise<unknown> | null = null;

/** `npm run build` once per process: dist/src/server.js and dist/src/worker.js from this checkout. */
function buildOnce(): Promise<unknown> {
  built ??= promisify(execFile)('npm', ['run', '--silent', 'build'], { cwd: ROOT }).catch((err: unknown) => {
    built = null;
    throw new Error(`npm run build failed: ${(err as { stderr?: string }).stderr || (err as Error).message}`);
  });
  return built;
}

/** Resolves once `proc` wrote a line containing `marker` to stdout; rejects if it exits first. */
function whenLogged(proc: ManagedProcess, marker: string, what: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let stderr = '';
    forEachLine(proc.child.stdout, (line) => line.includes(marker) && resolve());
    forEachLine(proc.child.stderr, (line) => (stderr = `${stderr}${line}\n`.slice(-4000)));
    void proc.exited.then((code) => reject(new Error(`${what} exited (${code}): ${stderr}`)));
  });
}

export async function startProcessStack(opts: ProcessStackOptions = {}): Promise<ProcessStack> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'outdial-bench-'));
  chmodSync(dir, 0o755); // Postgres runs as the postgres user when run as root
  const stopList: (() => Promise<void>)[] = [];
  const stack = { workers: [] as ManagedProcess[], apis: [] as ManagedProcess[] } as unknown as ProcessStack;
  stack.stop = async () => {
    // Last started, first stopped: workers and the API before the servers they use.
    while (stopList.length) await stopList.pop()!().catch((err: unknown) => say(`stop: ${(err as Error).message}`));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await buildOnce();
    const [pgPort, temporalPort, apiPort] = [await freePort(), await freePort(), await freePort()];
    const cliPath = await ensureTemporalCli();
    // pg_stat_statements counts every statement each dialer sends (bench/suite/scenarios.ts).
    const startPg = () => startEmbeddedPostgres({ dataDir: path.join(dir, 'pg'), port: pgPort, settings: { shared_preload_libraries: 'pg_stat_statements' } });
    const startTemporal = () => startTemporalDevServer({ cliPath, port: temporalPort, ...(opts.temporalInMemory ? {} : { dbFilename: path.join(dir, 'temporal.sqlite') }) });
    stack.postgres = await startPg();
    stopList.push(() => stack.postgres.stop());
    stack.temporal = await startTemporal();
    stopList.push(() => stack.temporal.stop());
    stack.carrier = await startSandboxCarrier({
      port: 0,
      callsPerSecond: 10_000,
      waitTimeoutMs: 3_600_000,
      defaultScript: { dialMs: 1, ringMs: 50, talkMs: 300 },
      ...opts.carrier,
    });
    stopList.push(() => stack.carrier.stop());
    stack.apiUrl = `http://127.0.0.1:${apiPort}`;
    stack.adminKey = `odadmin_bench_${randomBytes(24).toString('hex')}`;
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      OUTDIAL_ENV: 'test',
      LOG_LEVEL: 'info',
      PORT: String(apiPort),
      DATABASE_URL: stack.postgres.databaseUrl,
      TEMPORAL_ADDRESS: stack.temporal.address,
      TEMPORAL_TASK_QUEUE: 'outdial-bench',
      PUBLIC_HOST: stack.apiUrl,
      OUTDIAL_ADMIN_KEYS: stack.adminKey,
      API_RATE_LIMIT_PER_MINUTE: '0',
      TWILIO_ACCOUNT_SID: stack.carrier.accountSid,
      TWILIO_AUTH_TOKEN: stack.carrier.authToken,
      TWILIO_API_BASE_URL: stack.carrier.url,
      TWILIO_CALLS_PER_SECOND: '0',
      WORKER_METRICS_PORT: '0',
      TEMPORAL_METRICS_ADDRESS: 'off',
      WEBHOOK_CONCURRENCY: '0',
      MALLOC_ARENA_MAX,
      ...opts.env,
    };
    const spawned = new Map<string, number>();
    const spawnEntry = (name: 'api' | 'worker', extra: NodeJS.ProcessEnv = {}) => {
      const entry = { api: 'dist/src/server.js', worker: 'dist/src/worker.js' }[name];
      const proc = spawnManaged(process.execPath, [path.join(ROOT, entry)], { cwd: ROOT, env: { ...env, ...extra } });
      if (opts.logDir) {
        spawned.set(name, (spawned.get(name) ?? 0) + 1);
        const log = createWriteStream(path.join(opts.logDir, `${name}-${spawned.get(name)}.log`));
        proc.child.stdout?.pipe(log, { end: false });
        proc.child.stderr?.pipe(log, { end: false });
        proc.child.once('close', () => log.end()); // after stdout and stderr are drained
      }
      return proc;
    };
    // With several APIs, each listens on a port of its own behind the proxy on apiPort.
    const apiPorts: number[] = [];
    if ((opts.apis ?? 1) > 1) {
      for (let i = 0; i < opts.apis!; i++) apiPorts.push(await freePort());
      const proxy = await startRoundRobinProxy(apiPort, () => apiPorts);
      stopList.push(() => new Promise<void>((resolve) => (proxy.close(() => resolve()), proxy.closeAllConnections())));
    }
    let apisStarted = 0;
    stack.startApi = async () => {
      const api = spawnEntry('api', apiPorts.length ? { PORT: String(apiPorts[apisStarted++ % apiPorts.length]) } : {});
      stopList.push(() => api.stop());
      await whenLogged(api, 'API listening', 'the API');
      stack.api = api;
      stack.apis.push(api);
      return api;
    };
    stack.startWorker = async () => {
      const worker = spawnEntry('worker');
      stopList.push(() => worker.stop());
      await whenLogged(worker, 'worker started', 'a worker');
      stack.workers.push(worker);
      return worker;
    };
    stack.killWorker = async (worker) => {
      stack.workers = stack.workers.filter((w) => w !== worker);
      worker.child.kill('SIGKILL');
      await worker.exited;
    };
    stack.restartPostgres = async () => {
      stack.postgres = await startPg();
    };
    stack.restartTemporal = async () => {
      stack.temporal = await startTemporal();
    };
    for (let i = 0; i < (opts.apis ?? 1); i++) await stack.startApi();
    await Promise.all(Array.from({ length: opts.workers ?? 2 }, () => stack.startWorker()));
    return stack;
  } catch (err) {
    await stack.stop();
    throw err;
  }
}

/** `--env KEY=VALUE` flags as settings for the API and workers. */
export function envFromFlags(flags: readonly string[]): NodeJS.ProcessEnv {
  return Object.fromEntries(
    flags.map((kv) => {
      const eq = kv.indexOf('=');
      if (eq < 1) throw new Error(`--env ${kv}: KEY=VALUE is needed`);
      return [kv.slice(0, eq), kv.slice(eq + 1)];
    }),
  );
}

/** One API request with the admin key; throws on a non-2xx answer. */
export async function adminApi<T>(stack: Pick<ProcessStack, 'apiUrl' | 'adminKey'>, method: string, route: string, body?: unknown): Promise<T> {
  const res = await fetch(stack.apiUrl + route, {
    method,
    headers: { authorization: `Bearer ${stack.adminKey}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${route}: ${res.status} ${text}`);
  return JSON.parse(text) as T;
}

/** Stops the stack on Ctrl-C too; returns whether an interrupt came (a failure after it is not a result). */
export function stopOnInterrupt(stack: () => ProcessStack | null): () => boolean {
  let interrupted = false;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      interrupted = true;
      void (stack()?.stop() ?? Promise.resolve()).finally(() => process.exit(130));
    });
  }
  return () => interrupted;
}
