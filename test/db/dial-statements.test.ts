import { randomUUID } from 'node:crypto';
import { beginDials, recordPlaced } from '../../src/db/queries/calls';
import { ownDatabaseForFile } from '../helpers/db';

const sid = (n: number) => `CA${n.toString(16).padStart(32, '0')}`;

/**
 * The per-claim statements of a dial on the real Postgres, on a database of its own: one statement
 * gives every reservation of a claim its last word (beginDials), and one records the SIDs of any
 * number of creates (recordPlaced), each call decided on its own.
 */
describe('the statements of one claim’s dials', () => {
  const own = ownDatabaseForFile({ max: 2 });
  let businessId: string;

  beforeAll(async () => {
    businessId = (await own.database.pool.query("INSERT INTO businesses (name, caller_id) VALUES ('Dials', '+15005550006') RETURNING id")).rows[0].id;
  });

  async function run(status: 'running' | 'paused'): Promise<string> {
    return (await own.database.pool.query(`INSERT INTO bulk_call_runs (business_id, status, workflow_id) VALUES ($1, $2, $3) RETURNING id`, [businessId, status, `run-${randomUUID()}`])).rows[0].id;
  }

  /** A run's reserved call with its dialing job. */
  async function reserved(runId: string, to: string, age = '0 seconds'): Promise<{ callId: string; jobId: string }> {
    const lead = await own.database.pool.query('INSERT INTO leads (business_id, phone) VALUES ($1, $2) RETURNING id', [businessId, to]);
    const job = await own.database.pool.query(
      `INSERT INTO outbound_call_jobs (run_id, lead_id, position, status, dial_lock_token, dial_started_at) VALUES ($1, $2, 0, 'dialing', gen_random_uuid(), now()) RETURNING id`,
      [runId, lead.rows[0].id],
    );
    const call = await own.database.pool.query(
      `INSERT INTO calls (business_id, direction, status, to_number, from_number, run_id, job_id, created_at)
       VALUES ($1, 'bulk', 'reserved', $2, '+15005550006', $3, $4, now() - $5::interval) RETURNING id`,
      [businessId, to, runId, job.rows[0].id, age],
    );
    return { callId: call.rows[0].id, jobId: job.rows[0].id };
  }

  test('beginDials decides each reservation of a claim in one statement: fresh ones begin, a paused run’s, a listed number’s, a stale or missing one do not', async () => {
    const running = await run('running');
    const paused = await run('paused');
    const fresh = [await reserved(running, '+14155580001'), await reserved(running, '+14155580002')];
    const ofPaused = await reserved(paused, '+14155580003');
    const listed = await reserved(running, '+14155580004');
    await own.database.pool.query('INSERT INTO do_not_call_numbers (business_id, phone) VALUES ($1, $2)', [businessId, '+14155580004']);
    const stale = await reserved(running, '+14155580005', '1 minute');
    const missing = randomUUID();

    const began = await beginDials(own.database.pool, [...fresh.map((c) => c.callId), ofPaused.callId, listed.callId, stale.callId, missing]);

    expect(fresh.map((c) => began.get(c.callId)?.result)).toEqual(['ok', 'ok']);
    expect(began.get(ofPaused.callId)).toEqual({ result: 'stopped' });
    expect(began.get(listed.callId)).toEqual({ result: 'do-not-call' });
    expect(began.get(stale.callId)).toEqual({ result: 'stopped' });
    expect(began.get(missing)).toEqual({ result: 'stopped' });
    const stamped = await own.database.pool.query<{ id: string }>('SELECT id FROM calls WHERE business_id = $1 AND dialed_at IS NOT NULL ORDER BY to_number', [businessId]);
    expect(stamped.rows.map((r) => r.id)).toEqual(fresh.map((c) => c.callId));
  });

  test('recordPlaced keeps every SID of a batch on its call and its job, and a callback that came first keeps its status', async () => {
    const running = await run('running');
    const calls = [await reserved(running, '+14155581001'), await reserved(running, '+14155581002')];
    // The second call's answered callback beat its create's answer.
    await own.database.pool.query("UPDATE calls SET status = 'in-progress' WHERE id = $1", [calls[1]!.callId]);

    await recordPlaced(own.database.pool, calls.map((c, i) => ({ id: c.callId, sid: sid(9000 + i) })));

    const rows = await own.database.pool.query<{ status: string; twilio_call_sid: string; job_sid: string }>(
      `SELECT c.status, c.twilio_call_sid, j.twilio_call_sid AS job_sid FROM calls c JOIN outbound_call_jobs j ON j.id = c.job_id WHERE c.id = ANY($1) ORDER BY c.to_number`,
      [calls.map((c) => c.callId)],
    );
    expect(rows.rows).toEqual([
      { status: 'queued', twilio_call_sid: sid(9000), job_sid: sid(9000) },
      { status: 'in-progress', twilio_call_sid: sid(9001), job_sid: sid(9001) },
    ]);
  });
});
