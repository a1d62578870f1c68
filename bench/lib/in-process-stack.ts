import { OutdialTestStack } from '../../test/helpers/outdial';
import { startTestServers } from '../../test/helpers/servers';

/**
 * Servers of the bench's own (Postgres, the Temporal dev server) and Outdial in this process with a
 * worker, the sandbox carrier unpaced and calls of `talkMs`: for benchmarks that count from the
 * histories rather than kill processes (those use process-stack.ts). `stop` stops it all.
 */
export async function startInProcessStack(talkMs: number): Promise<{ stack: OutdialTestStack; stop(): Promise<void> }> {
  const servers = await startTestServers();
  process.env.OUTDIAL_TEST_DATABASE_URL = servers.databaseUrl;
  process.env.OUTDIAL_TEST_TEMPORAL_ADDRESS = servers.temporalAddress;
  const stack = await OutdialTestStack.start({
    wakeFallbackSeconds: 30,
    carrier: { callsPerSecond: 10_000, waitTimeoutMs: 3_600_000, defaultScript: { dialMs: 1, ringMs: 5, talkMs } },
  });
  await stack.startWorker();
  return {
    stack,
    async stop() {
      await stack.stop();
      await servers.stop();
    },
  };
}
