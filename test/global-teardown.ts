import { waitUntil } from '../src/dev/processes';
import type { TestServers } from './helpers/servers';
import { processesMarked, SUITE_MARKER } from './helpers/suite-processes';

/** Stops the suite's servers, then fails the run if any process the suite started is still alive. */
export default async function globalTeardown(): Promise<void> {
  const servers = (globalThis as { __outdialTestServers?: TestServers }).__outdialTestServers;
  await servers?.stop();
  const marker = process.env[SUITE_MARKER];
  if (!marker) return;
  // Jest's own workers carry the marker too, and end with this process.
  const leftOver = () => processesMarked(marker).filter((p) => p.pid !== process.pid && !p.args.includes('jest-worker'));
  try {
    // Stopped servers may take a moment to exit.
    await waitUntil(async () => leftOver().length === 0, { timeoutMs: 10_000, what: 'the exit of every process the suite started' });
  } catch {
    const left = leftOver();
    for (const p of left) {
      try {
        process.kill(p.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    throw new Error(`the suite left ${left.length} process(es) running (now killed):\n${left.map((p) => `  ${p.pid} (parent ${p.ppid}): ${p.args}`).join('\n')}`);
  }
}
