import { Context } from '@temporalio/activity';

/** How often a long activity tells Temporal it is alive; its heartbeat timeout is a few of these. */
export const HEARTBEAT_INTERVAL_MS = 1_000;

/**
 * Runs `work` while heartbeating: if the worker dies mid-activity, Temporal notices within the
 * activity's heartbeat timeout (seconds) rather than its start-to-close timeout, and retries the
 * activity on another worker. Each heartbeat carries `details()`: the Web UI shows the latest under
 * the run's pending activity. Outside an activity (a direct call in a test) it just runs `work`.
 */
export async function withHeartbeat<T>(work: () => Promise<T>, details: () => unknown = () => undefined): Promise<T> {
  let context: Context | null = null;
  try {
    context = Context.current();
  } catch {
    return work();
  }
  // A local activity has no heartbeat: the workflow task it runs in is extended by the SDK instead.
  if (context.info.isLocal) return work();
  const beat = setInterval(() => context.heartbeat(details()), HEARTBEAT_INTERVAL_MS);
  try {
    context.heartbeat(details());
    return await work();
  } finally {
    clearInterval(beat);
  }
}
