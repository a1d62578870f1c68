import type { ManagedProcess } from '../../src/dev/processes';
import { FAST_RECOVERY, leadPhones, OutdialTestStack, pollFor } from '../helpers/outdial';

/**
 * Durability: workers die without warning (SIGKILL: no drain, no cleanup) while the run is dialing.
 * Runs re-check every 2 s and calls without news for 1 s are reconciled, so the test stays short.
 */
describe('workers killed with SIGKILL mid-run and mid-wait', () => {
  let stack: OutdialTestStack;
  let workers: ManagedProcess[] = [];
  beforeAll(async () => {
    stack = await OutdialTestStack.start(FAST_RECOVERY);
    workers = await Promise.all([stack.startWorkerProcess(), stack.startWorkerProcess()]);
  });
  afterAll(async () => {
    await Promise.all(workers.map((w) => w.stop()));
    await stack.stop();
  });

  test('the run completes on the surviving worker: every lead called exactly once, never more than the limit at once', async () => {
    const business = await stack.createBusiness();
    const phones = leadPhones(30, '+1415580');
    const run = await stack.createRun(business.id, phones);
    // Kill one worker, bring a fresh one, kill the other: whichever held the run's workflow and its
    // dial activity died with work in flight.
    await stack.carrier.waitForCalls(8, { from: business.callerId });
    workers[0]!.child.kill('SIGKILL');
    await workers[0]!.exited;
    workers.push(await stack.startWorkerProcess());
    await stack.carrier.waitForCalls(16, { from: business.callerId });
    workers[1]!.child.kill('SIGKILL');
    await workers[1]!.exited;
    const done = await stack.runResult(run);
    expect(done.status).toBe('completed');
    expect(done.jobs).toMatchObject({ completed: 30, queued: 0, dialing: 0 });
    const calls = stack.carrier.calls({ from: business.callerId });
    expect(calls.map((c) => c.to).sort()).toEqual([...phones].sort());
    expect(stack.carrier.stats().perFrom[business.callerId]?.peak).toBeLessThanOrEqual(3);
    // The killed workers are gone, not orphaned: no process has their PIDs any more.
    for (const killed of workers.slice(0, 2)) expect(isAlive(killed.child.pid!)).toBe(false);
  });

  test('a worker killed while its run waits for its startAt does not lose the wait: the run dials at its start', async () => {
    const business = await stack.createBusiness();
    const phones = leadPhones(3, '+1415581');
    const startAt = new Date(Date.now() + 4_000);
    const created = await stack.api<{ run: { id: string; workflowId: string } }>('POST', `/v1/businesses/${business.id}/runs`, {
      startAt: startAt.toISOString(),
      leads: phones.map((phone) => ({ phone })),
    });
    expect(created.status).toBe(201);
    // The run is asleep on its timer (its pass said it waits for the start): kill every worker.
    const asleep = await pollFor(() => stack.getRun(created.body.run.id), (r) => r.waiting !== null);
    expect(asleep.waiting).toMatchObject({ reason: 'start-at' });
    const live = workers.filter((w) => isAlive(w.child.pid!));
    for (const w of live) w.child.kill('SIGKILL');
    await Promise.all(live.map((w) => w.exited));
    // A fresh worker picks the run up; the durable timer was the server's, not the dead worker's.
    workers.push(await stack.startWorkerProcess());
    const done = await stack.runResult(created.body.run);
    expect(done.jobs).toMatchObject({ completed: 3 });
    const calls = stack.carrier.calls({ from: business.callerId });
    expect(calls.map((c) => c.to).sort()).toEqual([...phones].sort());
    for (const c of calls) expect(c.createdAt).toBeGreaterThanOrEqual(startAt.getTime());
  });
});

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
