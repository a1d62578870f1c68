import { randomUUID } from 'node:crypto';
import { readBusinessRunSlots } from '../../src/claim/slots';
import { reserveDirectCall } from '../../src/claim/direct';
import { fieldsOfRow, findBusiness, updateBusiness } from '../../src/db/queries/businesses';
import { claimRound, endQueuedJobs, type ClaimReservation } from '../../src/db/queries/jobs';
import type { CallingWindow } from '../../src/db/settings';
import { ownDatabaseForFile } from '../helpers/db';

const ALWAYS: CallingWindow = { alwaysOpen: true };
const BASE_URL = 'https://outdial.example.test';

/**
 * A claim that counts the slots without the business's slot lock (claimRound with a gate), on the
 * real Postgres and a database of its own: it commits only at the slot version it counted at, so
 * a slot taken meanwhile (a direct call's reservation, another claim, a change of the limits, by
 * any process: the version moves by trigger) makes it write nothing, whether that commit came
 * before its statement or while it waited for the row.
 */
describe('a claim gated on the slot version', () => {
  const own = ownDatabaseForFile({ max: 4 });


  /** A business (limit 3) with a running run of `leads` queued jobs. */
  async function runWithLeads(leads: number): Promise<{ businessId: string; runId: string }> {
    const businessId = (await own.database.pool.query("INSERT INTO businesses (name, caller_id, calling_window) VALUES ('Gated', '+15005550006', $1) RETURNING id", [ALWAYS])).rows[0].id;
    const runId = (await own.database.pool.query(`INSERT INTO bulk_call_runs (business_id, status, workflow_id) VALUES ($1, 'running', $2) RETURNING id`, [businessId, `run-${randomUUID()}`])).rows[0].id;
    for (let i = 0; i < leads; i++) {
      const lead = await own.database.pool.query('INSERT INTO leads (business_id, phone) VALUES ($1, $2) RETURNING id', [businessId, `+1415559${String(i).padStart(4, '0')}`]);
      await own.database.pool.query('INSERT INTO outbound_call_jobs (run_id, lead_id, position) VALUES ($1, $2, $3)', [runId, lead.rows[0].id, i]);
    }
    return { businessId, runId };
  }

  function reservation(n: number): ClaimReservation {
    return {
      from: '+15005550006',
      onMachine: null,
      calls: Array.from({ length: n }, () => {
        const id = randomUUID();
        return { id, statusCallbackUrl: `${BASE_URL}/twilio/status?callId=${id}`, amdCallbackUrl: null };
      }),
      refills: { since: null, horizonSeconds: 60 },
    };
  }

  const gatedClaim = (ids: { businessId: string; runId: string }, n: number, slotVersion: string) =>
    claimRound(own.database.pool, { id: ids.runId, businessId: ids.businessId, timeZone: 'UTC', window: ALWAYS }, reservation(n), randomUUID(), {
      round: 0,
      offset: 0,
      gate: { slotVersion },
    });

  async function state(runId: string) {
    const jobs = await own.database.pool.query<{ status: string; n: string }>('SELECT status, count(*) AS n FROM outbound_call_jobs WHERE run_id = $1 GROUP BY status ORDER BY status', [runId]);
    const calls = await own.database.pool.query<{ n: string }>('SELECT count(*) AS n FROM calls WHERE run_id = $1', [runId]);
    return { jobs: Object.fromEntries(jobs.rows.map((r) => [r.status, Number(r.n)])), calls: Number(calls.rows[0]!.n) };
  }

  test('at the version it counted at it claims and reserves, and moves the version; at an older one it writes nothing', async () => {
    const ids = await runWithLeads(5);
    const read = await readBusinessRunSlots(own.database.pool, ids.businessId, { runId: ids.runId });
    expect(read?.slots).toMatchObject({ limit: 3, active: 0 });
    const version = read!.business.slot_version;

    const first = await gatedClaim(ids, 2, version);
    expect(first).toMatchObject({ stale: false, skipped: 0 });
    expect(first.claimed.map((j) => j.position)).toEqual([0, 1]);
    expect(await state(ids.runId)).toEqual({ jobs: { dialing: 2, queued: 3 }, calls: 2 });
    const after = (await findBusiness(own.database.pool, ids.businessId))!.slot_version;
    expect(BigInt(after)).toBe(BigInt(version) + 1n);

    // A second claim from the same reading: a slot was taken since, so it claims nothing.
    const again = await gatedClaim(ids, 1, version);
    expect(again).toEqual({ claimed: [], skipped: 0, refills: [], stale: true });
    expect(await state(ids.runId)).toEqual({ jobs: { dialing: 2, queued: 3 }, calls: 2 });
  });

  test('a direct call reserved after the reading, or a change of the limits, makes the claim stale', async () => {
    const ids = await runWithLeads(3);
    const version = (await readBusinessRunSlots(own.database.pool, ids.businessId, { runId: ids.runId }))!.business.slot_version;
    const direct = await reserveDirectCall(own.database, ids.businessId, { to: '+14155598000' }, BASE_URL);
    expect(direct.ok).toBe(true);
    expect((await gatedClaim(ids, 2, version)).stale).toBe(true);
    expect(await state(ids.runId)).toEqual({ jobs: { queued: 3 }, calls: 0 });

    const before = (await findBusiness(own.database.pool, ids.businessId))!;
    await updateBusiness(own.database.pool, ids.businessId, { ...fieldsOfRow(before), maxConcurrentCalls: 2 });
    expect((await gatedClaim(ids, 1, before.slot_version)).stale).toBe(true);
    const now = await readBusinessRunSlots(own.database.pool, ids.businessId, { runId: ids.runId });
    expect(now?.slots).toMatchObject({ limit: 2, active: 1 });
    expect((await gatedClaim(ids, 1, now!.business.slot_version)).claimed).toHaveLength(1);
    expect(await state(ids.runId)).toEqual({ jobs: { dialing: 1, queued: 2 }, calls: 1 });
  });

  test('a claim that waits for the row while another takes a slot sees that commit and writes nothing', async () => {
    const ids = await runWithLeads(3);
    const version = (await readBusinessRunSlots(own.database.pool, ids.businessId, { runId: ids.runId }))!.business.slot_version;
    // Another slot-taker holds the business's row, its reservation not yet committed.
    const other = await own.database.pool.connect();
    try {
      await other.query('BEGIN');
      await other.query('SELECT id FROM businesses WHERE id = $1 FOR NO KEY UPDATE', [ids.businessId]);
      await other.query('UPDATE businesses SET slot_version = slot_version + 1 WHERE id = $1', [ids.businessId]);
      const claim = gatedClaim(ids, 2, version);
      // The claim's statement is waiting on that row lock (polled from pg_stat_activity, not slept for).
      for (;;) {
        const waiting = await own.database.pool.query(`SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%candidates AS (%'`);
        if (Number(waiting.rows[0].n) > 0) break;
      }
      await other.query('COMMIT');
      expect(await claim).toMatchObject({ claimed: [], stale: true });
    } finally {
      other.release();
    }
    expect(await state(ids.runId)).toEqual({ jobs: { queued: 3 }, calls: 0 });
  });

  test('the version moves in the database, whoever writes: a call row inserted by any statement, a limit changed by any UPDATE', async () => {
    const ids = await runWithLeads(1);
    const version = async () => BigInt((await findBusiness(own.database.pool, ids.businessId))!.slot_version);
    const v0 = await version();
    await own.database.pool.query(`INSERT INTO calls (business_id, direction, status, to_number, from_number) VALUES ($1, 'direct', 'reserved', '+14155598001', '+15005550006')`, [ids.businessId]);
    expect(await version()).toBe(v0 + 1n);
    expect((await findBusiness(own.database.pool, ids.businessId))!.last_claim_at).not.toBeNull();
    await own.database.pool.query('UPDATE businesses SET name = $2 WHERE id = $1', [ids.businessId, 'Renamed']);
    expect(await version()).toBe(v0 + 1n);
    await own.database.pool.query('UPDATE businesses SET reserved_direct_slots = 1 WHERE id = $1', [ids.businessId]);
    expect(await version()).toBe(v0 + 2n);
    expect((await gatedClaim(ids, 1, String(v0 + 1n))).stale).toBe(true);
  });

  test("a change of the business's calling window or time zone moves the version: a claim that read the old window claims nothing", async () => {
    const ids = await runWithLeads(2);
    const read = (await readBusinessRunSlots(own.database.pool, ids.businessId, { runId: ids.runId }))!;
    const narrowed: CallingWindow = { days: ['mon'], start: '09:00', end: '10:00', blackoutDates: [] };
    await updateBusiness(own.database.pool, ids.businessId, { ...fieldsOfRow(read.business), callingWindow: narrowed });
    // Its reading had the window that was always open: it must not claim by it.
    expect(await gatedClaim(ids, 2, read.business.slot_version)).toMatchObject({ claimed: [], stale: true });
    const afterWindow = (await findBusiness(own.database.pool, ids.businessId))!;
    await updateBusiness(own.database.pool, ids.businessId, { ...fieldsOfRow(afterWindow), timeZone: 'Asia/Tokyo' });
    expect(BigInt((await findBusiness(own.database.pool, ids.businessId))!.slot_version)).toBe(BigInt(afterWindow.slot_version) + 1n);
    // A change of anything else (its name) does not.
    await updateBusiness(own.database.pool, ids.businessId, { ...fieldsOfRow((await findBusiness(own.database.pool, ids.businessId))!), name: 'Renamed' });
    expect(BigInt((await findBusiness(own.database.pool, ids.businessId))!.slot_version)).toBe(BigInt(afterWindow.slot_version) + 1n);
    expect(await state(ids.runId)).toEqual({ jobs: { queued: 2 }, calls: 0 });
  });

  /**
   * A cancel commits its status, then its batches lock the run's row, then its queued jobs
   * (endQueuedJobs). A claim that locked jobs before the run's row would deadlock with a batch; the
   * claim takes the run's row first, so it waits, and then finds the run canceling (and, behind a
   * batch, the jobs ended).
   */
  test.each([
    ['gated', 'its status alone', true, false],
    ['locked', 'its status alone', false, false],
    ['gated', 'a batch of its jobs', true, true],
    ['locked', 'a batch of its jobs', false, true],
  ])('a %s claim that waits for the run row while a cancel commits %s claims nothing', async (_name, _what, gated, batchInside) => {
    const ids = await runWithLeads(4);
    const version = (await readBusinessRunSlots(own.database.pool, ids.businessId, { runId: ids.runId }))!.business.slot_version;
    const cancel = await own.database.pool.connect();
    try {
      const pid: number = (await cancel.query('SELECT pg_backend_pid() AS pid')).rows[0].pid;
      await cancel.query('BEGIN');
      await cancel.query(`UPDATE bulk_call_runs SET status = 'canceling' WHERE id = $1`, [ids.runId]);
      const run = { id: ids.runId, businessId: ids.businessId, timeZone: 'UTC', window: ALWAYS };
      const claim = claimRound(own.database.pool, run, reservation(2), randomUUID(), { round: 0, offset: 0, gate: gated ? { slotVersion: version } : null });
      // Until the claim waits for the cancel's row lock (polled from pg_stat_activity, not slept for).
      for (;;) {
        const waiting = await own.database.pool.query('SELECT count(*) AS n FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))', [pid]);
        if (Number(waiting.rows[0].n) > 0) break;
      }
      if (batchInside) expect(await endQueuedJobs(cancel, ids.runId, 'canceled', 5_000)).toBe(4);
      await cancel.query('COMMIT');
      expect(await claim).toMatchObject({ claimed: [], stale: true });
    } finally {
      await cancel.query('ROLLBACK').catch(() => undefined);
      cancel.release();
    }
    expect(await state(ids.runId)).toEqual({ jobs: batchInside ? { canceled: 4 } : { queued: 4 }, calls: 0 });
  });

  test('a run paused after the reading claims nothing', async () => {
    const ids = await runWithLeads(2);
    const version = (await readBusinessRunSlots(own.database.pool, ids.businessId, { runId: ids.runId }))!.business.slot_version;
    await own.database.pool.query(`UPDATE bulk_call_runs SET status = 'paused' WHERE id = $1`, [ids.runId]);
    expect(await gatedClaim(ids, 2, version)).toMatchObject({ claimed: [], stale: true });
    expect(await state(ids.runId)).toEqual({ jobs: { queued: 2 }, calls: 0 });
  });

  test('a direct call counts its slots after it has the slot lock: the last slot, taken by another while it waited, refuses it at the limit', async () => {
    const ids = await runWithLeads(0);
    for (const to of ['+14155598010', '+14155598011']) expect((await reserveDirectCall(own.database, ids.businessId, { to }, BASE_URL)).ok).toBe(true);
    // Another slot-taker holds the business's row, its reservation of the last slot not yet committed.
    const other = await own.database.pool.connect();
    try {
      const pid: number = (await other.query('SELECT pg_backend_pid() AS pid')).rows[0].pid;
      await other.query('BEGIN');
      await other.query('SELECT id FROM businesses WHERE id = $1 FOR NO KEY UPDATE', [ids.businessId]);
      await other.query(`INSERT INTO calls (business_id, direction, status, to_number, from_number) VALUES ($1, 'direct', 'reserved', '+14155598012', '+15005550006')`, [ids.businessId]);
      const direct = reserveDirectCall(own.database, ids.businessId, { to: '+14155598013' }, BASE_URL);
      // Until the direct call waits for that row (polled from pg_stat_activity, not slept for).
      for (;;) {
        const waiting = await own.database.pool.query('SELECT count(*) AS n FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))', [pid]);
        if (Number(waiting.rows[0].n) > 0) break;
      }
      await other.query('COMMIT');
      expect(await direct).toMatchObject({ ok: false, reason: 'at-limit', slots: { limit: 3, active: 3 } });
    } finally {
      await other.query('ROLLBACK').catch(() => undefined);
      other.release();
    }
    const reserved = await own.database.pool.query("SELECT count(*) AS n FROM calls WHERE business_id = $1 AND status = 'reserved'", [ids.businessId]);
    expect(Number(reserved.rows[0].n)).toBe(3);
    // A slot freed: the next one is reserved, and says so.
    await own.database.pool.query("UPDATE calls SET status = 'completed', ended_at = now() WHERE business_id = $1 AND to_number = '+14155598012'", [ids.businessId]);
    expect(await reserveDirectCall(own.database, ids.businessId, { to: '+14155598013' }, BASE_URL)).toMatchObject({ ok: true, slots: { limit: 3, active: 3 } });
  });

  test('a direct call to a listed number from a caller ID the business does not own is refused for the caller ID, as before the lists were read outside the lock', async () => {
    const ids = await runWithLeads(0);
    await own.database.pool.query('INSERT INTO do_not_call_numbers (business_id, phone) VALUES ($1, $2)', [ids.businessId, '+14155598030']);
    expect(await reserveDirectCall(own.database, ids.businessId, { to: '+14155598030', callerId: '+15005550009' }, BASE_URL)).toMatchObject({ ok: false, reason: 'caller-id-not-owned' });
    expect(await reserveDirectCall(own.database, ids.businessId, { to: '+14155598030' }, BASE_URL)).toMatchObject({ ok: false, reason: 'do-not-call' });
  });

  test("a direct call the account's pace refuses after its counted insert leaves nothing: no call row, the slot version unmoved", async () => {
    const ids = await runWithLeads(0);
    const pacing = { account: `AC${randomUUID().replace(/-/g, '')}`, callsPerSecond: 1, inFlightSeconds: 20 };
    expect((await reserveDirectCall(own.database, ids.businessId, { to: '+14155598020' }, BASE_URL, {}, pacing)).ok).toBe(true);
    const version = (await findBusiness(own.database.pool, ids.businessId))!.slot_version;
    expect(await reserveDirectCall(own.database, ids.businessId, { to: '+14155598021' }, BASE_URL, {}, pacing)).toMatchObject({ ok: false, reason: 'paced' });
    const calls = await own.database.pool.query<{ to_number: string }>('SELECT to_number FROM calls WHERE business_id = $1', [ids.businessId]);
    expect(calls.rows).toEqual([{ to_number: '+14155598020' }]);
    expect((await findBusiness(own.database.pool, ids.businessId))!.slot_version).toBe(version);
  });
});
