import { randomUUID } from 'node:crypto';
import { startSlotWaits, type SlotWaitResult, type SlotWaits } from '../../src/calls/slot-waits';
import { createDatabase, type Database } from '../../src/db/client';
import { notifySlots } from '../../src/db/queries/businesses';
import { createLogger } from '../../src/logger';
import { connectTestDatabase, createMigratedDatabase } from '../helpers/db';

const LONG_MS = 60_000;

/**
 * Dial sessions' waits on the real Postgres: a change wakes the session of the run it names (its
 * call ended, its status changed), else the longest waiting, and a hand-on wakes the next one that
 * has not claimed since. Whether a wait is still pending is read after a later notification on the
 * same connection has been heard: Postgres delivers a listener's notifications in order.
 */
describe('slot waits', () => {
  let admin: Database;
  let own: { url: string; drop(): Promise<void> };
  let database: Database;
  let waits: SlotWaits;
  let businessId: string;
  /** A business of its own whose wake-up marks "every notification sent before it was heard". */
  let markerId: string;
  let runA: string;
  let runB: string;

  beforeAll(async () => {
    admin = connectTestDatabase();
    own = await createMigratedDatabase(admin);
    database = createDatabase(own.url, { max: 2 });
    const business = async (name: string) => (await database.pool.query("INSERT INTO businesses (name, caller_id) VALUES ($1, '+15005550006') RETURNING id", [name])).rows[0].id as string;
    businessId = await business('Waits');
    markerId = await business('Marker');
    const run = async () =>
      (await database.pool.query("INSERT INTO bulk_call_runs (business_id, workflow_id, status) VALUES ($1, $2, 'running') RETURNING id", [businessId, `run-${randomUUID()}`])).rows[0].id as string;
    runA = await run();
    runB = await run();
    waits = startSlotWaits(own.url, createLogger('test', 'silent'));
    await waits.ready;
  });
  afterAll(async () => {
    await waits?.stop();
    await database?.close();
    await own?.drop();
    await admin?.close();
  });

  /** A wait whose outcome can be read without awaiting it. */
  function waitFor(runId: string | undefined): { result: Promise<SlotWaitResult>; settled: () => SlotWaitResult | null } {
    let outcome: SlotWaitResult | null = null;
    const result = waits.wait(businessId, waits.seen(businessId), LONG_MS, runId ? { runId } : {}).then((r) => (outcome = r));
    return { result, settled: () => outcome };
  }

  /** Resolves once every notification sent before this call has been heard by the listener. */
  async function heardAllSoFar(): Promise<void> {
    const unfollow = waits.follow(markerId);
    try {
      const marker = waits.wait(markerId, waits.seen(markerId), LONG_MS);
      await notifySlots(database.pool, markerId);
      expect(await marker).toBe('changed');
    } finally {
      unfollow();
    }
  }

  async function withSessions<T>(fn: () => Promise<T>): Promise<T> {
    const unfollowA = waits.follow(businessId);
    const unfollowB = waits.follow(businessId);
    try {
      return await fn();
    } finally {
      unfollowA();
      unfollowB();
    }
  }

  let positions = 0;
  /** A call of `runId`'s, with the lead and job a bulk call belongs to. */
  async function callOf(runId: string, status: string): Promise<string> {
    const lead = (await database.pool.query("INSERT INTO leads (business_id, phone) VALUES ($1, '+14155550100') RETURNING id", [businessId])).rows[0].id as string;
    const job = (await database.pool.query('INSERT INTO outbound_call_jobs (run_id, lead_id, position) VALUES ($1, $2, $3) RETURNING id', [runId, lead, positions++])).rows[0].id as string;
    const r = await database.pool.query(
      "INSERT INTO calls (business_id, direction, status, to_number, from_number, run_id, job_id) VALUES ($1, 'bulk', $2, '+14155550100', '+15005550006', $3, $4) RETURNING id",
      [businessId, status, runId, job],
    );
    return r.rows[0].id as string;
  }

  it("a call that ends wakes its own run's session and no other; a hand-on then wakes the other", () =>
    withSessions(async () => {
      const call = await callOf(runB, 'in-progress');
      const a = waitFor(runA);
      const b = waitFor(runB);
      await database.pool.query("UPDATE calls SET status = 'completed', ended_at = now() WHERE id = $1", [call]);
      expect(await b.result).toBe('changed');
      await heardAllSoFar();
      expect(a.settled()).toBeNull();
      // B's claim left a slot that A can use.
      expect(waits.handOn(businessId, [runA])).toBe(true);
      expect(await a.result).toBe('changed');
    }));

  it('a change naming no run wakes the longest-waiting session only', () =>
    withSessions(async () => {
      const first = waitFor(runA);
      const second = waitFor(runB);
      await notifySlots(database.pool, businessId);
      expect(await first.result).toBe('changed');
      await heardAllSoFar();
      expect(second.settled()).toBeNull();
      expect(waits.handOn(businessId)).toBe(true);
      expect(await second.result).toBe('changed');
    }));

  it("a run's status change wakes that run's session, and a withdrawn reservation its run's", () =>
    withSessions(async () => {
      const a = waitFor(runA);
      const b = waitFor(runB);
      await database.pool.query("UPDATE bulk_call_runs SET status = 'paused' WHERE id = $1", [runB]);
      expect(await b.result).toBe('changed');
      await heardAllSoFar();
      expect(a.settled()).toBeNull();

      const reserved = await callOf(runA, 'reserved');
      const b2 = waitFor(runB);
      await database.pool.query('DELETE FROM calls WHERE id = $1', [reserved]);
      expect(await a.result).toBe('changed');
      await heardAllSoFar();
      expect(b2.settled()).toBeNull();
      expect(waits.handOn(businessId)).toBe(true);
      expect(await b2.result).toBe('changed');
    }));

  it('a hand-on wakes no session that began waiting after the latest change', () =>
    withSessions(async () => {
      const a = waitFor(runA);
      await notifySlots(database.pool, businessId);
      expect(await a.result).toBe('changed');
      // A claimed after the change and waits again: a hand-on for that change is not for it.
      const again = waitFor(runA);
      expect(waits.handOn(businessId, [runA])).toBe(false);
      await heardAllSoFar();
      expect(again.settled()).toBeNull();
      await notifySlots(database.pool, businessId);
      expect(await again.result).toBe('changed');
    }));

  /** The snapshot a claim's standing statement would count in now. */
  const snapshotNow = async () => (await database.pool.query<{ s: string }>('SELECT pg_current_snapshot()::text AS s')).rows[0]!.s;

  it("a freed slot the session's last claim already counted neither ends its wait nor wakes it; one freed after that claim does", () =>
    withSessions(async () => {
      const counted = await callOf(runA, 'in-progress');
      const later = await callOf(runA, 'in-progress');
      // The call ends before the session's claim counts the slots, and its notification is heard after.
      const since = waits.seen(businessId);
      await database.pool.query("UPDATE calls SET status = 'completed', ended_at = now() WHERE id = $1", [counted]);
      const snapshot = await snapshotNow();
      await heardAllSoFar();
      expect(waits.seen(businessId)).toBeGreaterThan(since);
      let outcome: SlotWaitResult | null = null;
      const waiting = waits.wait(businessId, since, LONG_MS, { runId: runA, counted: snapshot }).then((r) => (outcome = r));
      await heardAllSoFar();
      expect(outcome).toBeNull();
      // Without the snapshot, the same change would have sent it to claim again at once.
      expect(await waits.wait(businessId, since, LONG_MS, { runId: runA })).toBe('changed');
      await database.pool.query("UPDATE calls SET status = 'completed', ended_at = now() WHERE id = $1", [later]);
      expect(await waiting).toBe('changed');
    }));

  it("a notification naming a run whose claim counted it goes to the next session that did not", () =>
    withSessions(async () => {
      const call = await callOf(runA, 'in-progress');
      const before = await snapshotNow();
      // As if A's claim had counted after every transaction to come had committed; B's before the call ends.
      const sawAll = `${2n ** 60n}:${2n ** 60n}:`;
      let aOutcome: SlotWaitResult | null = null;
      const a = waits.wait(businessId, waits.seen(businessId), LONG_MS, { runId: runA, counted: sawAll }).then((r) => (aOutcome = r));
      const b = waits.wait(businessId, waits.seen(businessId), LONG_MS, { runId: runB, counted: before });
      // The notification names A's run; A counted it, so B is woken for it.
      await database.pool.query("UPDATE calls SET status = 'completed', ended_at = now() WHERE id = $1", [call]);
      expect(await b).toBe('changed');
      await heardAllSoFar();
      expect(aOutcome).toBeNull();
      await notifySlots(database.pool, businessId);
      expect(await a).toBe('changed');
    }));
});
