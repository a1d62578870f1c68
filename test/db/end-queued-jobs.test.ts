import { randomUUID } from 'node:crypto';
import type { PoolClient } from 'pg';
import { createRunLifecycleActivities } from '../../src/activities/run-lifecycle';
import { reserveAndClaimJobs } from '../../src/claim/bulk';
import { findRun } from '../../src/db/queries/runs';
import type { CallingWindow } from '../../src/db/settings';
import { createLogger } from '../../src/logger';
import { ownDatabaseForFile } from '../helpers/db';

const ALWAYS: CallingWindow = { alwaysOpen: true };
const BASE_URL = 'https://outdial.example.test';
const BATCH = 100;

/**
 * A cancel or a stopAt ends a run's queued jobs a batch at a time, each batch its own transaction,
 * and never under the business's slot lock: on the real Postgres, one of the run's later jobs is
 * held by another transaction, so the ending stops mid-way, and what the rest of the business can
 * do meanwhile is seen. (A 100,000-lead run's ending took 1-3 s in one transaction, its business's
 * claims waiting behind it.)
 */
describe("ending a run's queued jobs", () => {
  const own = ownDatabaseForFile({ max: 6 });
  const logger = createLogger('test', 'silent');

  /** A business (limit 3) with run A of `leads` queued jobs (its stopAt as given) and run B of 2. */
  async function business(leads: number, stopAt: Date | null = null): Promise<{ businessId: string; a: string; b: string }> {
    const q = (text: string, params: unknown[]) => own.database.pool.query(text, params);
    const businessId = (await q("INSERT INTO businesses (name, caller_id, calling_window) VALUES ('Ending', '+15005550006', $1) RETURNING id", [ALWAYS])).rows[0].id;
    const run = async (n: number, stop: Date | null, area: number) => {
      const id = (await q("INSERT INTO bulk_call_runs (business_id, status, workflow_id, stop_at) VALUES ($1, 'running', $2, $3) RETURNING id", [businessId, `run-${randomUUID()}`, stop])).rows[0].id;
      await q(
        `WITH l AS (INSERT INTO leads (business_id, phone) SELECT $1, '+1' || $3::text || lpad(i::text, 7, '0') FROM generate_series(0, $2 - 1) i RETURNING id, phone)
         INSERT INTO outbound_call_jobs (run_id, lead_id, position) SELECT $4, l.id, row_number() OVER (ORDER BY l.phone) - 1 FROM l`,
        [businessId, n, area, id],
      );
      return id as string;
    };
    return { businessId, a: await run(leads, stopAt, 415), b: await run(2, null, 650) };
  }

  async function jobs(runId: string): Promise<Record<string, number>> {
    const r = await own.database.pool.query<{ status: string; n: string }>('SELECT status, count(*) AS n FROM outbound_call_jobs WHERE run_id = $1 GROUP BY status', [runId]);
    return Object.fromEntries(r.rows.map((row) => [row.status, Number(row.n)]));
  }

  /** Holds the row lock of the run's job at `position` in a transaction of its own until `release`. */
  async function holdJob(runId: string, position: number): Promise<{ pid: number; release(): Promise<void> }> {
    const client: PoolClient = await own.database.pool.connect();
    const pid: number = (await client.query('SELECT pg_backend_pid() AS pid')).rows[0].pid;
    await client.query('BEGIN');
    await client.query('SELECT id FROM outbound_call_jobs WHERE run_id = $1 AND position = $2 FOR UPDATE', [runId, position]);
    return {
      pid,
      release: async () => {
        await client.query('ROLLBACK');
        client.release();
      },
    };
  }

  /** Until a statement waits for the held job (polled from pg_stat_activity, not slept for). */
  async function waitsFor(held: { pid: number }): Promise<void> {
    for (;;) {
      const r = await own.database.pool.query('SELECT count(*) AS n FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))', [held.pid]);
      if (Number(r.rows[0].n) > 0) return;
    }
  }

  const claim = async (runId: string) =>
    reserveAndClaimJobs(own.database, (await findRun(own.database.pool, runId))!, randomUUID(), BASE_URL, { quietSeconds: 20, endBatch: BATCH });

  test("a cancel commits the run's status first, then ends its queued jobs a batch at a time: its run's claim and the business's other runs do not wait for the rest", async () => {
    const { a, b } = await business(250);
    const lifecycle = createRunLifecycleActivities({ database: own.database, logger, config: { publicHost: { platform: {} }, env: 'test', port: 3000, queuedJobsEndBatch: BATCH } });
    const held = await holdJob(a, 150);
    let cancel: Promise<unknown> | undefined;
    try {
      cancel = lifecycle.transitionRun({ runId: a, action: 'cancel' });
      await waitsFor(held);
      // The status and the first batch are committed while the second waits.
      expect((await findRun(own.database.pool, a))?.status).toBe('canceling');
      expect(await jobs(a)).toEqual({ canceled: BATCH, queued: 250 - BATCH });
      // The canceling run's own pass finds it canceling and claims nothing, without a lock to wait for.
      expect(await claim(a)).toMatchObject({ claimed: [], runStatus: 'canceling' });
      // Another run of the business dials: nothing of the cancel holds the business.
      expect((await claim(b)).claimed).toHaveLength(2);
    } finally {
      await held.release();
    }
    expect(await cancel).toEqual({ runId: a, status: 'canceling' });
    expect(await jobs(a)).toEqual({ canceled: 250 });
    expect(await jobs(b)).toEqual({ dialing: 2 });
  });

  test("a claim under the slot lock that read its run running, then meets the cancel's committed status on the run's row, claims nothing", async () => {
    const { a } = await business(5);
    const cancel: PoolClient = await own.database.pool.connect();
    try {
      const pid: number = (await cancel.query('SELECT pg_backend_pid() AS pid')).rows[0].pid;
      // The cancel's status change, not yet committed: the claim reads the run running.
      await cancel.query('BEGIN');
      await cancel.query("UPDATE bulk_call_runs SET status = 'canceling' WHERE id = $1", [a]);
      // At the account's pace the claim reads under the slot lock, then locks its run (claimUnderSlotLock).
      const pacing = { account: `AC${randomUUID().replace(/-/g, '')}`, callsPerSecond: 100, inFlightSeconds: 20 };
      const claimed = reserveAndClaimJobs(own.database, (await findRun(own.database.pool, a))!, randomUUID(), BASE_URL, { pacing, quietSeconds: 20, endBatch: BATCH });
      await waitsFor({ pid });
      await cancel.query('COMMIT');
      // It claims nothing, and says why: the run is canceling now.
      expect(await claimed).toMatchObject({ claimed: [], runStatus: 'canceling' });
    } finally {
      await cancel.query('ROLLBACK').catch(() => undefined);
      cancel.release();
    }
    expect(await jobs(a)).toEqual({ queued: 5 });
    expect(Number((await own.database.pool.query('SELECT count(*) AS n FROM calls WHERE run_id = $1', [a])).rows[0].n)).toBe(0);
  });

  test("a retried cancel (its status already committed) is not refused: it ends what is still queued", async () => {
    const { a } = await business(3);
    const lifecycle = createRunLifecycleActivities({ database: own.database, logger, config: { publicHost: { platform: {} }, env: 'test', port: 3000, queuedJobsEndBatch: BATCH } });
    // The first attempt's status change committed; its worker died before the jobs were ended.
    await own.database.pool.query("UPDATE bulk_call_runs SET status = 'canceling' WHERE id = $1", [a]);
    expect(await lifecycle.transitionRun({ runId: a, action: 'cancel' })).toEqual({ runId: a, status: 'canceling' });
    expect(await jobs(a)).toEqual({ canceled: 3 });
    // Another transition from where the run stands is still refused.
    await expect(lifecycle.transitionRun({ runId: a, action: 'pause' })).rejects.toMatchObject({ type: 'InvalidTransition' });
  });

  test("a run past its stopAt expires its queued jobs outside the business's slot lock, a batch at a time: the business's other runs dial meanwhile", async () => {
    const { a, b } = await business(250, new Date(Date.now() - 60_000));
    const held = await holdJob(a, 150);
    let pass: ReturnType<typeof claim> | undefined;
    try {
      pass = claim(a);
      await waitsFor(held);
      expect(await jobs(a)).toEqual({ expired: BATCH, queued: 250 - BATCH });
      expect((await claim(b)).claimed).toHaveLength(2);
    } finally {
      await held.release();
    }
    expect(await pass).toMatchObject({ claimed: [], expired: 250 });
    expect(await jobs(a)).toEqual({ expired: 250 });
    const reason = await own.database.pool.query('SELECT DISTINCT last_error FROM outbound_call_jobs WHERE run_id = $1', [a]);
    expect(reason.rows).toEqual([{ last_error: 'the run reached its stopAt before this lead was dialed' }]);
  });
});
