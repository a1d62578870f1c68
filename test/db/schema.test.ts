import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createDatabase, migrateDatabase, type Database } from '../../src/db/client';
import { connectTestDatabase, createEmptyDatabase } from '../helpers/db';
import { pollUntil } from '../helpers/outdial';

const SID = (n: number) => `CA${n.toString(16).padStart(32, '0')}`;

describe('database schema', () => {
  let admin: Database;
  let empty: { url: string; drop(): Promise<void> };
  let db: Database;

  beforeAll(async () => {
    admin = connectTestDatabase();
    empty = await createEmptyDatabase(admin);
    db = createDatabase(empty.url, { max: 2 });
  });

  afterAll(async () => {
    await db.close();
    await empty.drop();
    await admin.close();
  });

  test('migrations create every table on an empty database, and running them again changes nothing', async () => {
    const tables = async () =>
      (
        await db.pool.query<{ table_name: string }>(
          "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name",
        )
      ).rows.map((r) => r.table_name);
    expect(await tables()).toEqual([]);
    await migrateDatabase(db);
    expect(await tables()).toEqual(['api_keys', 'bulk_call_runs', 'businesses', 'call_releases', 'calls', 'carrier_sends', 'do_not_call_numbers', 'event_watches', 'events', 'idempotency_keys', 'leads', 'outbound_call_jobs', 'webhook_deliveries', 'webhook_endpoints']);
    await Promise.all([migrateDatabase(db), migrateDatabase(db)]);
    expect(await tables()).toEqual(['api_keys', 'bulk_call_runs', 'businesses', 'call_releases', 'calls', 'carrier_sends', 'do_not_call_numbers', 'event_watches', 'events', 'idempotency_keys', 'leads', 'outbound_call_jobs', 'webhook_deliveries', 'webhook_endpoints']);
    const business = await db.pool.query(
      "INSERT INTO businesses (name, caller_id) VALUES ('Acme', '+15005550006') RETURNING max_concurrent_calls",
    );
    expect(business.rows[0].max_concurrent_calls).toBe(3);
  });

  test("the migration journal's times increase: drizzle applies a migration only if its time is after the last one applied", () => {
    const journal = JSON.parse(readFileSync(path.join(__dirname, '../../drizzle/meta/_journal.json'), 'utf8')) as { entries: { tag: string; when: number }[] };
    // drizzle-kit stamps a new migration with the clock; the recorded ones are later than it (set by hand), so a new one needs its time set above the last.
    const out = journal.entries.filter((e, i) => i > 0 && e.when <= journal.entries[i - 1]!.when).map((e) => e.tag);
    expect(out).toEqual([]);
  });

  describe('constraints reject bad rows', () => {
    let businessId: string;
    beforeAll(async () => {
      await migrateDatabase(db);
      const r = await db.pool.query("INSERT INTO businesses (name, caller_id) VALUES ('Constraints', '+15005550006') RETURNING id");
      businessId = r.rows[0].id;
    });

    const insertCall = (sid: string | null, status = 'queued') =>
      db.pool.query(
        "INSERT INTO calls (business_id, direction, status, to_number, from_number, twilio_call_sid) VALUES ($1, 'direct', $2, '+14155550100', '+15005550006', $3)",
        [businessId, status, sid],
      );
    const countCalls = async () => Number((await db.pool.query('SELECT count(*) FROM calls WHERE business_id = $1', [businessId])).rows[0].count);

    test('a duplicate call SID', async () => {
      await insertCall(SID(1));
      await expect(insertCall(SID(1))).rejects.toMatchObject({ code: '23505', constraint: 'calls_twilio_call_sid_unique' });
      expect(await countCalls()).toBe(1);
    });

    test('an unknown call status', async () => {
      await expect(insertCall(SID(2), 'answered')).rejects.toMatchObject({ code: '23514', constraint: 'calls_status_valid' });
    });

    test('a lead without a valid E.164 phone', async () => {
      for (const phone of ['4155550100', '+0123456789', '+1 415 555 0100', '']) {
        await expect(
          db.pool.query('INSERT INTO leads (business_id, phone) VALUES ($1, $2)', [businessId, phone]),
        ).rejects.toMatchObject({ code: '23514', constraint: 'leads_phone_e164' });
      }
      await expect(db.pool.query('INSERT INTO leads (business_id, phone) VALUES ($1, NULL)', [businessId])).rejects.toMatchObject({ code: '23502' });
    });

    test('a second job for the same lead, run and attempt; an unknown job status; a job of no run', async () => {
      const lead = (await db.pool.query("INSERT INTO leads (business_id, phone) VALUES ($1, '+14155550101') RETURNING id", [businessId])).rows[0].id;
      const run = (await db.pool.query("INSERT INTO bulk_call_runs (business_id, workflow_id) VALUES ($1, 'bulk-call-run-constraints') RETURNING id", [businessId])).rows[0].id;
      await db.pool.query('INSERT INTO outbound_call_jobs (run_id, lead_id, position) VALUES ($1, $2, 0)', [run, lead]);
      await expect(db.pool.query('INSERT INTO outbound_call_jobs (run_id, lead_id, position) VALUES ($1, $2, 1)', [run, lead])).rejects.toMatchObject({
        constraint: 'outbound_call_jobs_run_lead_attempt_unique',
      });
      await expect(
        db.pool.query("INSERT INTO outbound_call_jobs (run_id, lead_id, position, attempt, status) VALUES ($1, $2, 1, 2, 'ringing')", [run, lead]),
      ).rejects.toMatchObject({ constraint: 'outbound_call_jobs_status_valid' });
      await expect(
        db.pool.query("INSERT INTO outbound_call_jobs (run_id, lead_id, position, attempt, status) VALUES ($1, $2, 1, 2, 'dialing')", [run, lead]),
      ).rejects.toMatchObject({ constraint: 'outbound_call_jobs_claim_consistent' });
      await expect(
        db.pool.query('INSERT INTO outbound_call_jobs (run_id, lead_id, position) VALUES (gen_random_uuid(), $1, 1)', [lead]),
      ).rejects.toMatchObject({ code: '23503' });
    });

    // The references a run's upload writes per row are checked per statement (drizzle/0014): the same guarantees as a foreign key.
    describe("a lead's business, a job's run and lead", () => {
      const newLead = async (phone: string) => (await db.pool.query('INSERT INTO leads (business_id, phone) VALUES ($1, $2) RETURNING id', [businessId, phone])).rows[0].id as string;
      const newRun = async (workflowId: string) =>
        (await db.pool.query('INSERT INTO bulk_call_runs (business_id, workflow_id) VALUES ($1, $2) RETURNING id', [businessId, workflowId])).rows[0].id as string;
      const leadsOf = async (phone: string) => Number((await db.pool.query('SELECT count(*) FROM leads WHERE phone = $1', [phone])).rows[0].count);

      test('an insert naming a missing parent is refused whole, naming the key', async () => {
        await expect(
          db.pool.query('INSERT INTO leads (business_id, phone) VALUES ($1, $3), (gen_random_uuid(), $2)', [businessId, '+14155550111', '+14155550112']),
        ).rejects.toMatchObject({ code: '23503', table: 'leads', column: 'business_id', detail: expect.stringMatching(/^Key \(business_id\)=\([0-9a-f-]{36}\) is not present in table "businesses"/) });
        expect(await leadsOf('+14155550112')).toBe(0);
        const [lead, run] = [await newLead('+14155550113'), await newRun('bulk-call-run-references')];
        await expect(
          db.pool.query('INSERT INTO outbound_call_jobs (run_id, lead_id, position) VALUES ($1, $2, 0), ($1, gen_random_uuid(), 1)', [run, lead]),
        ).rejects.toMatchObject({ code: '23503', column: 'lead_id' });
        expect(Number((await db.pool.query('SELECT count(*) FROM outbound_call_jobs WHERE run_id = $1', [run])).rows[0].count)).toBe(0);
      });

      test('an update that points a row at a missing parent is refused; one that keeps or changes it to an existing parent is not', async () => {
        const [lead, other, run] = [await newLead('+14155550114'), await newLead('+14155550115'), await newRun('bulk-call-run-references-update')];
        const job = (await db.pool.query('INSERT INTO outbound_call_jobs (run_id, lead_id, position) VALUES ($1, $2, 0) RETURNING id', [run, lead])).rows[0].id;
        await expect(db.pool.query('UPDATE outbound_call_jobs SET lead_id = gen_random_uuid() WHERE id = $1', [job])).rejects.toMatchObject({ code: '23503', column: 'lead_id' });
        await expect(db.pool.query('UPDATE outbound_call_jobs SET run_id = gen_random_uuid() WHERE id = $1', [job])).rejects.toMatchObject({ code: '23503', column: 'run_id' });
        await expect(db.pool.query('UPDATE leads SET business_id = gen_random_uuid() WHERE id = $1', [lead])).rejects.toMatchObject({ code: '23503', column: 'business_id' });
        await db.pool.query('UPDATE outbound_call_jobs SET lead_id = $2, run_id = run_id WHERE id = $1', [job, other]);
        expect((await db.pool.query('SELECT lead_id FROM outbound_call_jobs WHERE id = $1', [job])).rows[0].lead_id).toBe(other);
      });

      test('a parent with children is neither deleted nor re-keyed; one without is deleted', async () => {
        const [lead, run] = [await newLead('+14155550116'), await newRun('bulk-call-run-references-delete')];
        await db.pool.query('INSERT INTO outbound_call_jobs (run_id, lead_id, position) VALUES ($1, $2, 0)', [run, lead]);
        await expect(db.pool.query('DELETE FROM leads WHERE id = $1', [lead])).rejects.toMatchObject({ code: '23503', table: 'leads' });
        await expect(db.pool.query('UPDATE leads SET id = gen_random_uuid() WHERE id = $1', [lead])).rejects.toMatchObject({ code: '23503', table: 'leads' });
        await expect(db.pool.query('DELETE FROM bulk_call_runs WHERE id = $1', [run])).rejects.toMatchObject({ code: '23503', table: 'bulk_call_runs' });
        await expect(db.pool.query('DELETE FROM businesses WHERE id = $1', [businessId])).rejects.toMatchObject({ code: '23503' });
        const lone = await newLead('+14155550117');
        await db.pool.query('DELETE FROM leads WHERE id = $1', [lone]);
        expect(await leadsOf('+14155550117')).toBe(0);
      });

      test('a parent referenced by a transaction still open is locked: deleting it waits, then is refused', async () => {
        const lead = await newLead('+14155550118');
        const run = await newRun('bulk-call-run-references-lock');
        const [writer, deleter] = [await db.pool.connect(), await db.pool.connect()];
        try {
          const deleterPid = (await deleter.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
          await writer.query('BEGIN');
          await writer.query('INSERT INTO outbound_call_jobs (run_id, lead_id, position) VALUES ($1, $2, 0)', [run, lead]);
          const deleting = deleter.query('DELETE FROM leads WHERE id = $1', [lead]).then(
            () => 'deleted',
            (err: { code?: string }) => err.code,
          );
          // The delete waits on the writer's lock of the lead until the writer commits.
          await pollUntil(async () => (await admin.pool.query("SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND wait_event_type = 'Lock'", [deleterPid])).rowCount === 1);
          await writer.query('COMMIT');
          expect(await deleting).toBe('23503');
          // (The pool's two clients are both held here.)
          expect((await writer.query('SELECT count(*)::int AS n FROM leads WHERE id = $1', [lead])).rows[0].n).toBe(1);
        } finally {
          writer.release();
          deleter.release();
        }
      });
    });

    test('a business limit below 1 and a malformed caller ID', async () => {
      await expect(db.pool.query("INSERT INTO businesses (name, caller_id, max_concurrent_calls) VALUES ('x', '+15005550006', 0)")).rejects.toMatchObject({
        constraint: 'businesses_max_concurrent_calls_range',
      });
      await expect(db.pool.query("INSERT INTO businesses (name, caller_id) VALUES ('x', 'nope')")).rejects.toMatchObject({
        constraint: 'businesses_caller_id_e164',
      });
    });
  });
});
