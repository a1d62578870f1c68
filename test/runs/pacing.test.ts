import type { ManagedProcess } from '../../src/dev/processes';
import { leadPhones, OutdialTestStack } from '../helpers/outdial';

/**
 * Pacing per carrier account: Outdial never sends one account more creates per second than
 * TWILIO_CALLS_PER_SECOND, counted across worker processes and direct calls (in Postgres).
 */
describe('carrier pacing', () => {
  let stack: OutdialTestStack;
  const workers: ManagedProcess[] = [];

  beforeAll(async () => {
    stack = await OutdialTestStack.start({ callsPerSecond: 5, wakeFallbackSeconds: 3600, carrier: { defaultScript: { dialMs: 2, ringMs: 10, talkMs: 30 } } });
    // Two worker processes of their own, and none in this one: every run is dialed from another process.
    workers.push(await stack.startWorkerProcess(), await stack.startWorkerProcess());
  });
  afterAll(async () => {
    await Promise.all(workers.map((w) => w.stop()));
    await stack.stop();
  });

  test('three businesses on one account at 5 per second: no one-second window at the carrier holds more than 5 creates', async () => {
    const businesses = await Promise.all([1, 2, 3].map(() => stack.createBusiness({ maxConcurrentCalls: 3 })));
    const runs = await Promise.all(businesses.map((b, i) => stack.createRun(b.id, leadPhones(8, `+141559${6 + i}`))));
    // Direct calls in the same storm take their places too (they wait for one, briefly).
    const direct = await Promise.all(businesses.map((b, i) => stack.api('POST', `/v1/businesses/${b.id}/calls`, { to: `+1415599000${i}` })));
    expect(direct.map((d) => d.status)).toEqual([201, 201, 201]);
    const done = await Promise.all(runs.map((r) => stack.runResult(r)));
    expect(done.map((d) => d.status)).toEqual(['completed', 'completed', 'completed']);

    const creates = stack.carrier
      .requests()
      .filter((r) => r.method === 'POST' && r.path.endsWith('/Calls.json') && r.status === 201)
      .map((r) => r.at)
      .sort((a, b) => a - b);
    expect(creates).toHaveLength(27);
    let busiest = 0;
    for (let i = 0; i < creates.length; i++) {
      const inWindow = creates.filter((at) => at >= creates[i]! && at < creates[i]! + 1_000).length;
      busiest = Math.max(busiest, inWindow);
    }
    expect(busiest).toBeLessThanOrEqual(5);
    // 27 creates at 5 a second cannot take less than 5 windows.
    expect(creates.at(-1)! - creates[0]!).toBeGreaterThanOrEqual(4_000);
    for (const b of businesses) {
      expect(new Set(stack.carrier.calls({ from: b.callerId }).map((c) => c.to)).size).toBe(9);
      expect(stack.carrier.stats().perFrom[b.callerId]?.peak).toBeLessThanOrEqual(3);
    }
  });
});
