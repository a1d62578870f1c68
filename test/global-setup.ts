import { startTestServers } from './helpers/servers';

/** Starts one Temporal dev server and one Postgres for the whole suite; their addresses go through env. */
export default async function globalSetup(): Promise<void> {
  const servers = await startTestServers();
  process.env.OUTDIAL_TEST_DATABASE_URL = servers.databaseUrl;
  process.env.OUTDIAL_TEST_TEMPORAL_ADDRESS = servers.temporalAddress;
  process.env.OUTDIAL_TEST_TEMPORAL_CLI = servers.temporalCli;
  (globalThis as { __outdialTestServers?: typeof servers }).__outdialTestServers = servers;
}
