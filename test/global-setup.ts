import { randomUUID } from 'node:crypto';
import { startTestServers } from './helpers/servers';
import { SUITE_MARKER } from './helpers/suite-processes';

/** Starts one Temporal dev server and one Postgres for the whole suite; their addresses go through env. */
export default async function globalSetup(): Promise<void> {
  // First, so that the servers, Jest's workers and every process a test spawns inherit it.
  process.env[SUITE_MARKER] = randomUUID();
  const servers = await startTestServers();
  process.env.OUTDIAL_TEST_DATABASE_URL = servers.databaseUrl;
  process.env.OUTDIAL_TEST_TEMPORAL_ADDRESS = servers.temporalAddress;
  process.env.OUTDIAL_TEST_TEMPORAL_CLI = servers.temporalCli;
  (globalThis as { __outdialTestServers?: typeof servers }).__outdialTestServers = servers;
}
