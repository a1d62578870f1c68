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
  close(): Promise<void>;
}

export function createDatabase(databaseUrl: string, opts: { max?: number } = {}): Database {
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
  const db = drizzle(pool, { schema }) as Db;
  return { db, pool, close: () => pool.end() };
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
