import { leadPhones, OutdialTestStack } from '../helpers/outdial';

/**
 * A dial whose outcome is unknown holds a slot that may be held for nothing: it is checked with the
 * carrier within seconds (RECONCILE_FIRST_CHECK_SECONDS), not after the quiet period of
 * RECONCILE_AFTER_SECONDS that live calls get. This stack keeps both defaults (5 s and 120 s).
 */
describe('reconciliation of an unknown dial outcome, with the default schedule', () => {
  let stack: OutdialTestStack;

  beforeAll(async () => {
    // A create the carrier answers after the client's 2 s timeout. A run's own fallback re-check is
    // put past the test (and tests have no sweep schedule): only the run's timer for the due check wakes it.
    stack = await OutdialTestStack.start({ telephonyTimeoutMs: 2_000, wakeFallbackSeconds: 600, carrier: { defaultScript: { dialMs: 2, ringMs: 10, talkMs: 30 } } });
    expect(stack.config.reconcileAfterSeconds).toBe(120);
    expect(stack.config.reconcileFirstCheckSeconds).toBe(5);
    await stack.startWorker();
  });
  afterAll(async () => {
    await stack.stop();
  });

  // Bounded below the 120 s quiet period and the 600 s fallback: only the early check can settle the slot in time.
  test('a create answered after the timeout, its callbacks lost, is settled from the carrier and frees its slot for the next lead', async () => {
    const business = await stack.createBusiness({ maxConcurrentCalls: 1 });
    const phones = leadPhones(2, '+1415581');
    stack.carrier.injectFaults({ acceptThenTimeout: { delayMs: 4_000 }, callbacks: { faults: [{ kind: 'drop' }] } });
    const run = await stack.createRun(business.id, phones);
    const done = await stack.runResult(run);
    expect(done.status).toBe('completed');
    expect(done.jobs).toMatchObject({ total: 2, completed: 2, failed: 0 });
    // Each lead dialed once: the timed-out create was adopted, never re-dialed.
    const placed = stack.carrier.calls({ from: business.callerId });
    expect(placed.map((c) => c.to).sort()).toEqual([...phones].sort());
    expect(stack.carrier.callbacks().filter((c) => c.result === 'dropped')).not.toHaveLength(0);
    const rows = await stack.database.pool.query<{ to_number: string; status: string; twilio_call_sid: string; last_error: string | null }>(
      'SELECT to_number, status, twilio_call_sid, last_error FROM calls WHERE run_id = $1 ORDER BY created_at',
      [run.id],
    );
    expect(new Set(rows.rows.map((r) => r.twilio_call_sid))).toEqual(new Set(placed.map((c) => c.sid)));
    expect(rows.rows.map((r) => r.status)).toEqual(['completed', 'completed']);
    expect(rows.rows[0]!.last_error).toMatch(/^dial outcome unknown/);
  }, 60_000);
});
