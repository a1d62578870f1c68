import type { Database } from '../../src/db/client';
import { checkAfterApiStart, reconcileStaleCalls } from '../../src/calls/reconcile';
import { withdrawableAfterSeconds } from '../../src/calls/place-call';
import { recordUnknownOutcome } from '../../src/db/queries/calls';
import { reserveDirectCall } from '../../src/claim/direct';
import { connectTestDatabase, createMigratedDatabase } from '../helpers/db';
import { leadPhones, OutdialTestStack } from '../helpers/outdial';

/**
 * A dial whose outcome is unknown holds a slot that may be held for nothing: it is checked with the
 * carrier within seconds (RECONCILE_FIRST_CHECK_SECONDS); a live call whose callbacks stopped after
 * RECONCILE_QUIET_CALL_SECONDS of quiet, both well before RECONCILE_AFTER_SECONDS. This stack keeps
 * the defaults (5, 20 and 120 s).
 */
describe('reconciliation of an unknown dial outcome, with the default schedule', () => {
  let stack: OutdialTestStack;

  beforeAll(async () => {
    // A create the carrier answers after the client's 2 s timeout. A run's own fallback re-check is
    // put past the test (and tests have no sweep schedule): only the run's timer for the due check wakes it.
    stack = await OutdialTestStack.start({ telephonyTimeoutMs: 2_000, wakeFallbackSeconds: 600, carrier: { defaultScript: { dialMs: 2, ringMs: 10, talkMs: 30 } } });
    expect(stack.config.reconcileAfterSeconds).toBe(120);
    expect(stack.config.reconcileFirstCheckSeconds).toBe(5);
    expect(stack.config.reconcileQuietCallSeconds).toBe(20);
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

  test('a dial the carrier has no call for, too recent to withdraw, is checked again when it may be withdrawn, not a whole backoff later', async () => {
    const business = await stack.createBusiness({ maxConcurrentCalls: 1 });
    expect(withdrawableAfterSeconds(stack.config)).toBe(12);
    // As if a create was answered 503 8 s ago and its first check is due: the carrier has no call.
    const reserved = await reserveDirectCall(stack.database, business.id, { to: '+14155840001' }, stack.apiUrl);
    if (!reserved.ok) throw new Error(`reservation refused: ${reserved.reason}`);
    await stack.database.pool.query(
      `UPDATE calls SET dialed_at = now() - interval '8 seconds', next_check_at = now(), last_error = 'dial outcome unknown: 503' WHERE id = $1`,
      [reserved.call.callId],
    );
    expect(await reconcileStaleCalls({ ...stack.deps(), config: stack.config }, business.id)).toEqual({ settled: 0, withdrawn: 0, freed: 0 });
    const row = await stack.database.pool.query<{ status: string; checks: number; after_dial: number }>(
      'SELECT status, checks, extract(epoch FROM next_check_at - dialed_at)::float8 AS after_dial FROM calls WHERE id = $1',
      [reserved.call.callId],
    );
    // Asked about again 12 s after the dial, when it may be withdrawn (the backoff's next delay, 10 s, would be 18 s after it).
    expect(row.rows[0]).toMatchObject({ status: 'reserved', checks: 1 });
    expect(row.rows[0]!.after_dial).toBeGreaterThanOrEqual(12);
    expect(row.rows[0]!.after_dial).toBeLessThan(15);
    expect(stack.carrier.requests().filter((r) => r.method === 'GET' && r.query.To === '+14155840001')).toHaveLength(1);
  });

  test('a create that failed 1 s after its dial (a 5xx) may be withdrawn the request timeout after the failure, not the dial bound after the dial', async () => {
    const business = await stack.createBusiness({ maxConcurrentCalls: 1 });
    const reserved = await reserveDirectCall(stack.database, business.id, { to: '+14155840002' }, stack.apiUrl);
    if (!reserved.ok) throw new Error(`reservation refused: ${reserved.reason}`);
    await stack.database.pool.query(`UPDATE calls SET dialed_at = now() - interval '1 second' WHERE id = $1`, [reserved.call.callId]);
    // What the dial records when its create is answered 503 (src/calls/place-call.ts), then its first check comes due.
    await recordUnknownOutcome(stack.database.pool, reserved.call.callId, 'Service Unavailable', {
      firstCheckSeconds: 5,
      requestTimeoutSeconds: stack.config.twilio.requestTimeoutMs / 1000,
      afterDialSeconds: withdrawableAfterSeconds(stack.config),
    });
    await stack.database.pool.query('UPDATE calls SET next_check_at = now() WHERE id = $1', [reserved.call.callId]);
    expect(await reconcileStaleCalls({ ...stack.deps(), config: stack.config }, business.id)).toEqual({ settled: 0, withdrawn: 0, freed: 0 });
    const row = await stack.database.pool.query<{ withdrawable_after_dial: number; check_after_dial: number }>(
      `SELECT extract(epoch FROM withdrawable_at - dialed_at)::float8 AS withdrawable_after_dial,
              extract(epoch FROM next_check_at - dialed_at)::float8 AS check_after_dial
         FROM calls WHERE id = $1`,
      [reserved.call.callId],
    );
    // 1 s + the 2 s request timeout after the dial, not 12 s (the dial bound of 10 s + the timeout); checked again then.
    expect(row.rows[0]!.withdrawable_after_dial).toBeGreaterThanOrEqual(3);
    expect(row.rows[0]!.withdrawable_after_dial).toBeLessThan(5);
    expect(row.rows[0]!.check_after_dial).toBeGreaterThanOrEqual(row.rows[0]!.withdrawable_after_dial);
    expect(row.rows[0]!.check_after_dial).toBeLessThan(5);
    // Once past it, the carrier still having no such call, the reservation is withdrawn.
    await stack.database.pool.query(`UPDATE calls SET dialed_at = dialed_at - interval '5 seconds', withdrawable_at = withdrawable_at - interval '5 seconds', next_check_at = now() WHERE id = $1`, [
      reserved.call.callId,
    ]);
    expect(await reconcileStaleCalls({ ...stack.deps(), config: stack.config }, business.id)).toEqual({ settled: 0, withdrawn: 1, freed: 1 });
    const after = await stack.database.pool.query<{ status: string }>('SELECT status FROM calls WHERE id = $1', [reserved.call.callId]);
    expect(after.rows[0]?.status).toBe('failed');
  });

  // Bounded below the 120 s longest wait and the 600 s fallback: only the check after 20 s of quiet frees the slot in time.
  test('a call whose final callback is lost is checked after the quiet period and its slot goes to the next lead', async () => {
    const business = await stack.createBusiness({ maxConcurrentCalls: 1 });
    const phones = leadPhones(2, '+1415582');
    stack.carrier.injectFaults({ callbacks: { count: 1, faults: [{ kind: 'drop', events: ['completed'] }] } });
    const run = await stack.createRun(business.id, phones);
    const done = await stack.runResult(run);
    expect(done.status).toBe('completed');
    expect(done.jobs).toMatchObject({ total: 2, completed: 2 });
    const placed = stack.carrier.calls({ from: business.callerId }).sort((a, b) => a.createdAt - b.createdAt);
    expect(placed.map((c) => c.to).sort()).toEqual([...phones].sort());
    const [first, second] = placed;
    // The first call's end never reached Outdial: the carrier dropped it, and only a check could free the slot.
    const lost = stack.carrier.callbacks({ callSid: first!.sid, event: 'completed' });
    expect(lost.map((c) => c.result)).toEqual(['dropped']);
    // One at a time at the carrier: the second call began after the first had ended there, and after the quiet period.
    expect(second!.createdAt).toBeGreaterThanOrEqual(first!.endTime!);
    expect(second!.createdAt - first!.endTime!).toBeGreaterThanOrEqual(15_000);
    const rows = await stack.database.pool.query<{ twilio_call_sid: string; status: string }>('SELECT twilio_call_sid, status FROM calls WHERE run_id = $1', [run.id]);
    expect(rows.rows.find((r) => r.twilio_call_sid === first!.sid)?.status).toBe('completed');
  }, 60_000);
});

/**
 * An API process that starts makes every quiet dialed call due for a check at once
 * (checkAfterApiStart, called by src/server.ts): callbacks refused while no API was up cost
 * nothing more than the restart. This stack puts every other way out of the test's reach.
 */
describe('checks when an API process starts', () => {
  // A database of its own: the check reaches every business in it, and must not touch other tests' calls.
  let admin: Database;
  let own: { url: string; drop(): Promise<void> };
  let stack: OutdialTestStack;

  beforeAll(async () => {
    admin = connectTestDatabase();
    own = await createMigratedDatabase(admin);
    stack = await OutdialTestStack.start({
      databaseUrl: own.url,
      reconcileQuietCallSeconds: 600,
      reconcileAfterSeconds: 600,
      wakeFallbackSeconds: 600,
      carrier: { defaultScript: { dialMs: 2, ringMs: 10, talkMs: 30 } },
    });
    await stack.startWorker();
  });
  afterAll(async () => {
    await stack?.stop();
    await own?.drop();
    await admin?.close();
  });

  test('a call whose final callback was lost before the start is settled from the carrier and its slot used for the next lead', async () => {
    const business = await stack.createBusiness({ maxConcurrentCalls: 1 });
    const phones = leadPhones(2, '+1415583');
    stack.carrier.injectFaults({ callbacks: { count: 1, faults: [{ kind: 'drop', events: ['completed'] }] } });
    const run = await stack.createRun(business.id, phones);
    const [lost] = await stack.carrier.waitForCallbacks(1, { event: 'completed', result: 'dropped' });
    // The slot stays held with the last news the API had (answered): nothing is due for 600 s.
    const statusOf = async (sid: string) => (await stack.database.pool.query<{ status: string }>('SELECT status FROM calls WHERE twilio_call_sid = $1', [sid])).rows[0]?.status;
    await stack.carrier.waitFor(() => stack.carrier.callbacks({ callSid: lost!.callSid, event: 'answered' }).some((c) => c.responseStatus === 204));
    expect(await statusOf(lost!.callSid)).toBe('in-progress');

    expect(await checkAfterApiStart({ database: stack.database, wakeRuns: stack.wakeRuns, logger: stack.logger }, new Date())).toEqual([business.id]);
    const done = await stack.runResult(run);
    expect(done.status).toBe('completed');
    expect(stack.carrier.calls({ from: business.callerId }).map((c) => c.to).sort()).toEqual([...phones].sort());
    expect(await statusOf(lost!.callSid)).toBe('completed');
  }, 60_000);
});
