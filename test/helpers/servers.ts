import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createDatabase, migrateDatabase } from '../../src/db/client';
import { startEmbeddedPostgres } from '../../src/dev/postgres';
import { freePort } from '../../src/dev/processes';
import { ensureTemporalCli } from '../../src/dev/temporal-cli';
import { startTemporalDevServer } from '../../src/dev/temporal-server';

export interface TestServers {
  databaseUrl: string;
  temporalAddress: string;
  temporalCli: string;
  stop(): Promise<void>;
}

/**
 * The suite's real servers. Postgres lives in a fresh temp directory (world-traversable, because as
 * root it runs as the `postgres` user); Temporal is in-memory.
 */
export async function startTestServers(): Promise<TestServers> {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'outdial-test-'));
  chmodSync(tmp, 0o755);
  const [pgPort, temporalPort] = [await freePort(), await freePort()];
  const [temporalCli, postgres] = await Promise.all([
    ensureTemporalCli(),
    startEmbeddedPostgres({ dataDir: path.join(tmp, 'postgres'), port: pgPort }),
  ]);
  const temporal = await startTemporalDevServer({ cliPath: temporalCli, port: temporalPort });
  const database = createDatabase(postgres.databaseUrl, { max: 1 });
  await migrateDatabase(database);
  await database.close();
  return {
    databaseUrl: postgres.databaseUrl,
    temporalAddress: temporal.address,
    temporalCli,
    async stop() {
      await Promise.allSettled([temporal.stop(), postgres.stop()]);
      rmSync(tmp, { recursive: true, force: true });
    },
  };
}
