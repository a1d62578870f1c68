import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { WakeRetryQueue } from '../../src/calls/wake-runs';
import { freePort } from '../../src/dev/processes';
import { startTemporalDevServer, type TemporalDevServer } from '../../src/dev/temporal-server';
import { progressQuery } from '../../src/workflows/messages';
import { leadPhones, OutdialTestStack, pollFor } from '../helpers/outdial';

/**
 * A wake-up signal Temporal did not answer (it was restarting) is retried in memory until Temporal
 * is back, so the run asleep on its (here: 10-minute) fallback timer dials its next lead as soon as
 * Temporal answers again. Its own Temporal server, persisted to SQLite, so the restart touches no
 * other test.
 */
describe('wake-ups retried across a Temporal restart', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'outdial-wake-retry-'));
  chmodSync(dir, 0o755);
  let port: number;
  let temporal: TemporalDevServer;
  let stack: OutdialTestStack;
  const start = () => startTemporalDevServer({ cliPath: process.env.OUTDIAL_TEST_TEMPORAL_CLI!, port, dbFilename: path.join(dir, 'temporal.sqlite') });

  beforeAll(async () => {
    port = await freePort();
    temporal = await start();
    // No fallback within the test's reach: only a wake-up signal can make the run dial again.
    stack = await OutdialTestStack.start({ temporalAddress: temporal.address, wakeFallbackSeconds: 600, reconcileAfterSeconds: 600 });
    await stack.startWorker();
  });
  afterAll(async () => {
    await stack.stop();
    await temporal.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('a call that ends while Temporal is down wakes its run once Temporal is back: the next lead is dialed, the run completes', async () => {
    // A run that waits for its wake-up signal: no dial session hears the freed slot for it.
    stack.config.dialPass.sessionSeconds = 0;
    try {
      await wokenAfterTheOutage();
    } finally {
      stack.config.dialPass.sessionSeconds = 30;
    }
  });

  test('a run in a dial session needs no Temporal to refill a freed slot: the next lead is dialed during the outage', async () => {
    const business = await stack.createBusiness({ maxConcurrentCalls: 1 });
    const [first, second] = leadPhones(2, '+1415584');
    stack.carrier.setScripts([{ to: first!, outcome: 'hold' }]);
    const run = await stack.createRun(business.id, [first!, second!]);
    const [call] = await stack.carrier.waitForCalls(1, { from: business.callerId });
    await pollFor(async () => (await stack.latestPass(run.workflowId))?.heldBy, (heldBy) => heldBy === 'business-limit');

    await temporal.stop();
    stack.carrier.releaseCall(call!.sid, 'completed');
    await stack.carrier.waitForCalls(2, { from: business.callerId }, { timeoutMs: 30_000 });
    expect(stack.wakeRetries.pendingCount).toBe(0);

    temporal = await start();
    const done = await stack.runResult(run);
    expect(done.status).toBe('completed');
    expect(stack.carrier.calls({ from: business.callerId }).map((c) => c.to)).toEqual([first, second]);
  });

  async function wokenAfterTheOutage() {
    const business = await stack.createBusiness({ maxConcurrentCalls: 1 });
    const [first, second] = leadPhones(2, '+1415583');
    stack.carrier.setScripts([{ to: first!, outcome: 'hold' }]);
    const run = await stack.createRun(business.id, [first!, second!]);
    const [call] = await stack.carrier.waitForCalls(1, { from: business.callerId });
    // The run is asleep: its pass dialed the first lead and ended, and no activity is pending.
    const handle = stack.temporal.client.workflow.getHandle(run.workflowId);
    await pollFor(
      async () => ({ progress: await handle.query(progressQuery), pending: (await handle.describe()).raw.pendingActivities?.length ?? 0 }),
      ({ progress, pending }) => progress.dialedTotal === 1 && pending === 0,
    );

    // A second queue in the same outage: its bound and its coalescing.
    const bounded = new WakeRetryQueue({ temporal: stack.temporal.client, logger: stack.logger }, { maxPending: 2, maxIntervalMs: 200 });

    await temporal.stop();
    stack.carrier.releaseCall(call!.sid, 'completed');
    await pollFor(async () => stack.wakeRetries.pendingCount, (n) => n === 1);
    bounded.add(business.id, ['wf-a', 'wf-a', 'wf-b', 'wf-c']);
    expect(bounded.pendingCount).toBe(2);
    expect(stack.carrier.calls({ from: business.callerId })).toHaveLength(1);

    temporal = await start();
    await stack.carrier.waitForCalls(2, { from: business.callerId }, { timeoutMs: 30_000 });
    const done = await stack.runResult(run);
    expect(done.status).toBe('completed');
    expect(stack.carrier.calls({ from: business.callerId }).map((c) => c.to)).toEqual([first, second]);
    expect(stack.wakeRetries.pendingCount).toBe(0);
    // Temporal answered "no such workflow" for the made-up IDs: dropped, not retried for ever.
    await pollFor(async () => bounded.pendingCount, (n) => n === 0);
    await bounded.stop();
  }
});
