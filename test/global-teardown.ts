import type { TestServers } from './helpers/servers';

export default async function globalTeardown(): Promise<void> {
  const servers = (globalThis as { __outdialTestServers?: TestServers }).__outdialTestServers;
  await servers?.stop();
}
