import { createDatabase, migrateDatabase, type Database } from '../../src/db/client';
import { connectTestDatabase, createEmptyDatabase } from '../helpers/db';

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
    expect(await tables()).toEqual(['api_keys', 'bulk_call_runs', 'businesses', 'call_releases', 'calls', 'carrier_sends', 'do_not_call_numbers', 'events', 'idempotency_keys', 'leads', 'outbound_call_jobs', 'webhook_deliveries', 'webhook_endpoints']);
    await Promise.all([migrateDatabase(db), migrateDatabase(db)]);
    expect(await tables()).toEqual(['api_keys', 'bulk_call_runs', 'businesses', 'call_releases', 'calls', 'carrier_sends', 'do_not_call_numbers', 'events', 'idempotency_keys', 'leads', 'outbound_call_jobs', 'webhook_deliveries', 'webhook_endpoints']);
    const business = await db.pool.query(
      "INSERT INTO businesses (name, caller_id) VALUES ('Acme', '+15005550006') RETURNING max_concurrent_calls",
    );
    expect(business.rows[0].max_concurrent_calls).toBe(3);
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
