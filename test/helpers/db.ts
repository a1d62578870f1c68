import { randomUUID } from 'node:crypto';
import { createDatabase, migrateDatabase, type Database } from '../../src/db/client';

export function testDatabaseUrl(): string {
  const url = process.env.OUTDIAL_TEST_DATABASE_URL;
  if (!url) throw new Error('OUTDIAL_TEST_DATABASE_URL is not set: run the tests through jest (test/global-setup.ts)');
  return url;
}

/** The suite's shared, migrated database. Tests isolate themselves by creating their own businesses. */
export function connectTestDatabase(): Database {
  return createDatabase(testDatabaseUrl(), { max: 5 });
}

/** A brand-new empty database on the suite's Postgres, for tests that need one. */
export async function createEmptyDatabase(admin: Database): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `outdial_empty_${randomUUID().replace(/-/g, '')}`;
  await admin.pool.query(`CREATE DATABASE ${name}`);
  const url = new URL(testDatabaseUrl());
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      await admin.pool.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
  };
}

/**
 * A migrated database of the test file's own, for tests whose background work reads every business
 * (the reconciliation sweep, webhook dispatchers) and must not touch other files' rows.
 */
export async function createMigratedDatabase(admin: Database): Promise<{ url: string; drop(): Promise<void> }> {
  const own = await createEmptyDatabase(admin);
  const migrator = createDatabase(own.url, { max: 1 });
  await migrateDatabase(migrator);
  await migrator.close();
  return own;
}

/**
 * A migrated database of the test file's own (createMigratedDatabase), made before the file's tests
 * with a pool of `max` connections and dropped after them. `admin`: the suite's shared database
 * (its pg_stat_activity sees every database's backends).
 */
export function ownDatabaseForFile({ max }: { max: number }): { readonly database: Database; readonly admin: Database } {
  let admin: Database | undefined;
  let own: { url: string; drop(): Promise<void> } | undefined;
  let database: Database | undefined;
  beforeAll(async () => {
    admin = connectTestDatabase();
    own = await createMigratedDatabase(admin);
    database = createDatabase(own.url, { max });
  });
  afterAll(async () => {
    await database?.close();
    await own?.drop();
    await admin?.close();
  });
  const made = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error('the own database is made in beforeAll: use it inside a test or a later hook');
    return value;
  };
  return {
    get database() {
      return made(database);
    },
    get admin() {
      return made(admin);
    },
  };
}
