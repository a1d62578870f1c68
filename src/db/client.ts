import { existsSync } from 'node:fs';
import path from 'node:path';
import { drizzle, type NodePgDatabase } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import { Pool, type PoolClient } from 'pg';
import * as schema from './schema';

export type Db = NodePgDatabase<typeof schema> & { $client: Pool };

export interface Database {
  db: Db;
  pool: Pool;
  /** A call's status changes commit without waiting for the WAL flush (DATABASE_ASYNC_STATUS_COMMITS). */
  asyncStatusCommits: boolean;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  max?: number;
  /** Name each parameterised statement so Postgres plans it once per connection (DATABASE_PREPARED_STATEMENTS). */
  preparedStatements?: boolean;
  /** DATABASE_ASYNC_STATUS_COMMITS; default true. */
  asyncStatusCommits?: boolean;
}

export function createDatabase(databaseUrl: string, opts: DatabaseOptions = {}): Database {
  const pool = new Pool({
    connectionString: databaseUrl,
    max: opts.max ?? 10,
    // A transaction left open (a process frozen mid-claim) must not hold a business's slot lock
    // for ever: Postgres ends such a session, and no statement may run unbounded either.
    idle_in_transaction_session_timeout: 30_000,
    statement_timeout: 30_000,
  });
  // An idle client that errors (Postgres restarted) must not crash the process; the pool replaces it.
  pool.on('error', () => undefined);
  if (opts.preparedStatements ?? true) pool.on('connect', prepareStatements);
  const db = drizzle(pool, { schema }) as Db;
  return { db, pool, asyncStatusCommits: opts.asyncStatusCommits ?? true, close: () => pool.end() };
}

/** Statement text → its prepared name, shared by every connection of the process. */
const statementNames = new Map<string, string>();
/** Texts beyond this (statements built per call) run unnamed: a connection keeps every statement it prepared. */
const MAX_PREPARED_STATEMENTS = 2_000;

function statementName(text: string): string | undefined {
  let name = statementNames.get(text);
  if (name === undefined && statementNames.size < MAX_PREPARED_STATEMENTS) {
    name = `outdial_${statementNames.size + 1}`;
    statementNames.set(text, name);
  }
  return name;
}

type QueryArgs = [config: unknown, values?: unknown, callback?: unknown];

/**
 * Turns each parameterised query of this connection into a named one: Postgres parses and plans it
 * once per connection, not on every call. Planning took a third of Postgres's time per dial, for
 * statements that the hot paths repeat thousands of times. Statements without parameters (BEGIN,
 * COMMIT) and submittables (COPY) pass through as they are.
 */
function prepareStatements(client: PoolClient): void {
  const query = client.query.bind(client) as (...args: QueryArgs) => unknown;
  (client as unknown as { query: (...args: QueryArgs) => unknown }).query = (...args: QueryArgs) => {
    const [config, values, callback] = args;
    if (typeof config === 'string' && Array.isArray(values) && values.length > 0) {
      const name = statementName(config);
      if (name) return query({ name, text: config, values }, callback);
    } else if (isUnnamedQueryConfig(config)) {
      const name = statementName(config.text);
      if (name) return query({ ...config, name }, values, callback);
    }
    return query(...args);
  };
}

function isUnnamedQueryConfig(config: unknown): config is { text: string; values: unknown[]; name?: string } {
  if (typeof config !== 'object' || config === null) return false;
  const c = config as { text?: unknown; values?: unknown; name?: unknown; submit?: unknown };
  return typeof c.text === 'string' && Array.isArray(c.values) && c.values.length > 0 && c.name === undefined && c.submit === undefined;
}

/**
 * A pooled connection held across awaits. pg-pool drops its own error listener while a client is
 * checked out, so a connection Postgres terminates (a restart) would emit an unhandled 'error' and
 * crash the process; the query in flight fails on its own, so the event itself can be ignored.
 */
async function withClient<T>(database: Database, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await database.pool.connect();
  const ignore = () => undefined;
  client.on('error', ignore);
  try {
    return await fn(client);
  } finally {
    client.off('error', ignore);
    client.release();
  }
}

/** Thrown inside `inTransaction` to roll back and still answer with `value` (an outcome, not a failure). */
export class Rollback<T> {
  constructor(readonly value: T) {}
}

/** Runs `fn` in one transaction on one pooled connection; rolls back if it throws (a `Rollback` becomes the answer). */
export function inTransaction<T>(database: Database, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  return withClient(database, async (client) => {
    await client.query('BEGIN');
    try {
      const result = await fn(client);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      if (err instanceof Rollback) return err.value as T;
      throw err;
    }
  });
}

/** `drizzle/` at the package root, from the sources (src/db) or the build (dist/src/db). */
export const MIGRATIONS_FOLDER = [path.resolve(__dirname, '../../drizzle'), path.resolve(__dirname, '../../../drizzle')].find((dir) =>
  existsSync(path.join(dir, 'meta', '_journal.json')),
) ?? path.resolve(__dirname, '../../drizzle');

/** Applies the committed drizzle-kit migrations; safe to run from several processes at once. */
export async function migrateDatabase(database: Database): Promise<void> {
  await withClient(database, async (client) => {
    // drizzle's migrator is not safe against concurrent starts; serialise them with an advisory lock.
    await client.query('SELECT pg_advisory_lock(hashtext($1))', ['outdial:migrations']);
    try {
      await migrate(drizzle(client, { schema }), { migrationsFolder: MIGRATIONS_FOLDER });
    } finally {
      await client.query('SELECT pg_advisory_unlock(hashtext($1))', ['outdial:migrations']);
    }
  });
}
