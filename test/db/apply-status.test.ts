import { randomUUID } from 'node:crypto';
import type { PoolClient } from 'pg';
import { applyCallStatus, SignedForAnotherUrl, type AppliedStatus, type CallStatusUpdate } from '../../src/calls/apply-status';
import { changeCallStatus } from '../../src/db/queries/calls';
import { endQueuedJobs } from '../../src/db/queries/jobs';
import { statusesBehind } from '../../src/db/statuses';
import type { CallStatus } from '../../src/db/statuses';
import { ownDatabaseForFile } from '../helpers/db';

const sid = (n: number) => `CA${n.toString(16).padStart(32, '0')}`;

/**
 * applyCallStatus on the real Postgres, on a database of its own: the statements a status costs
 * (each `query` of a pooled connection is one round trip), and the same outcomes whichever way a
 * non-terminal status is applied (one statement, or the transaction an audit hook asks for).
 */
describe('applyCallStatus', () => {
  const own = ownDatabaseForFile({ max: 2 });
  let businessId: string;
  /** The text of every statement sent, in order. */
  const sent: string[] = [];

  beforeAll(async () => {
    // Registered before the first connection: every query any of them sends is counted.
    own.database.pool.on('connect', (client: PoolClient) => {
      const query = client.query.bind(client) as (...args: unknown[]) => unknown;
      (client as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
        const config = args[0];
        sent.push(typeof config === 'string' ? config : (config as { text: string }).text);
        return query(...args);
      };
    });
    businessId = (await own.database.pool.query("INSERT INTO businesses (name, caller_id) VALUES ('Statements', '+15005550006') RETURNING id")).rows[0].id;
  });

  async function directCall(status: CallStatus, callSid: string | null = null): Promise<string> {
    const r = await own.database.pool.query(
      "INSERT INTO calls (business_id, direction, status, to_number, from_number, twilio_call_sid) VALUES ($1, 'direct', $2, '+14155550100', '+15005550006', $3) RETURNING id",
      [businessId, status, callSid],
    );
    return r.rows[0].id;
  }

  /** A run's call, its job dialing; `retries`: the run retries a busy line. */
  async function bulkCall(callSid: string, status: CallStatus, retries: boolean): Promise<{ callId: string; jobId: string }> {
    const run = await own.database.pool.query(
      `INSERT INTO bulk_call_runs (business_id, status, workflow_id, retry_policy) VALUES ($1, 'running', $2, $3) RETURNING id`,
      [businessId, `run-${randomUUID()}`, retries ? { busy: { maxAttempts: 2, delaySeconds: 60, backoff: 1 } } : null],
    );
    const runId: string = run.rows[0].id;
    const lead = await own.database.pool.query("INSERT INTO leads (business_id, phone) VALUES ($1, '+14155550101') RETURNING id", [businessId]);
    const job = await own.database.pool.query(
      `INSERT INTO outbound_call_jobs (run_id, lead_id, position, status, dial_lock_token, dial_started_at, twilio_call_sid)
       VALUES ($1, $2, 0, 'dialing', gen_random_uuid(), now(), $3) RETURNING id`,
      [runId, lead.rows[0].id, callSid],
    );
    const jobId: string = job.rows[0].id;
    const call = await own.database.pool.query(
      "INSERT INTO calls (business_id, direction, status, to_number, from_number, run_id, job_id, twilio_call_sid) VALUES ($1, 'bulk', $2, '+14155550101', '+15005550006', $3, $4, $5) RETURNING id",
      [businessId, status, runId, jobId, callSid],
    );
    return { callId: call.rows[0].id, jobId };
  }

  /** The statements one application sends. */
  async function counted(apply: () => Promise<AppliedStatus>): Promise<{ applied: AppliedStatus; statements: string[] }> {
    sent.length = 0;
    const applied = await apply();
    return { applied, statements: sent.map((text) => text.trim().split(/\s+/)[0]!.toUpperCase()) };
  }

  const state = async (callId: string) =>
    (
      await own.database.pool.query(
        `SELECT status, twilio_call_sid, last_sequence_number, answered_at IS NOT NULL AS answered, ended_at IS NOT NULL AS ended
           FROM calls WHERE id = $1`,
        [callId],
      )
    ).rows[0];

  const eventsOf = async (callId: string): Promise<string[]> =>
    (await own.database.pool.query<{ type: string }>('SELECT type FROM events WHERE call_id = $1 ORDER BY id', [callId])).rows.map((r) => r.type);

  test('an answered callback is one statement; a busy one of a run with retries is tried alone, then done in a transaction with its retry', async () => {
    const { callId, jobId } = await bulkCall(sid(1), 'ringing', true);
    const answered = await counted(() => applyCallStatus(own.database, { callId, callSid: sid(1), status: 'in-progress', sequenceNumber: 2 }));
    expect(answered.applied).toMatchObject({ result: 'applied', previous: 'ringing', status: 'in-progress', freedSlot: false, retryQueued: false });
    expect(answered.statements).toEqual(['WITH']);

    const busy = await counted(() => applyCallStatus(own.database, { callId, callSid: sid(1), status: 'busy', sequenceNumber: 3 }));
    expect(busy.applied).toMatchObject({ result: 'applied', previous: 'in-progress', status: 'busy', jobId, freedSlot: true, retryQueued: true });
    expect(busy.statements).toEqual(['WITH', 'BEGIN', 'WITH', 'INSERT', 'COMMIT']);
    const jobs = await own.database.pool.query('SELECT attempt, status, outcome FROM outbound_call_jobs WHERE lead_id = (SELECT lead_id FROM outbound_call_jobs WHERE id = $1) ORDER BY attempt', [jobId]);
    expect(jobs.rows).toEqual([
      { attempt: 1, status: 'completed', outcome: 'busy' },
      { attempt: 2, status: 'queued', outcome: null },
    ]);
    expect(await state(callId)).toMatchObject({ status: 'busy', answered: true, ended: true });
    expect(await eventsOf(callId)).toEqual(['call.dialed', 'call.answered', 'call.completed']);
  });

  test('a completed callback of a run without retries is one statement; its job ends with it', async () => {
    const { callId, jobId } = await bulkCall(sid(2), 'in-progress', false);
    const completed = await counted(() => applyCallStatus(own.database, { callId, callSid: sid(2), status: 'completed', durationSeconds: 7 }));
    expect(completed.applied).toMatchObject({ result: 'applied', previous: 'in-progress', status: 'completed', jobId, freedSlot: true, retryQueued: false });
    expect(completed.statements).toEqual(['WITH']);
    const job = await own.database.pool.query('SELECT status, outcome, twilio_call_sid, finished_at IS NOT NULL AS finished FROM outbound_call_jobs WHERE id = $1', [jobId]);
    expect(job.rows).toEqual([{ status: 'completed', outcome: 'completed', twilio_call_sid: sid(2), finished: true }]);
    const repeated = await counted(() => applyCallStatus(own.database, { callId, callSid: sid(2), status: 'failed' }));
    expect(repeated.applied).toEqual({ result: 'unchanged', callId, status: 'completed' });
    expect((await own.database.pool.query('SELECT status, outcome FROM outbound_call_jobs WHERE id = $1', [jobId])).rows).toEqual([{ status: 'completed', outcome: 'completed' }]);
    expect(await state(callId)).toMatchObject({ status: 'completed', ended: true });
    expect(await eventsOf(callId)).toEqual(['call.dialed', 'call.answered', 'call.completed']);
  });

  test('a completed callback of a run with retries that queues none ends its job in a transaction; a permanent end needs none', async () => {
    const { callId, jobId } = await bulkCall(sid(3), 'in-progress', true);
    const completed = await counted(() => applyCallStatus(own.database, { callId, callSid: sid(3), status: 'completed' }));
    expect(completed.applied).toMatchObject({ result: 'applied', status: 'completed', jobId, freedSlot: true, retryQueued: false });
    expect(completed.statements).toEqual(['WITH', 'BEGIN', 'WITH', 'COMMIT']);
    expect((await own.database.pool.query('SELECT status, outcome FROM outbound_call_jobs WHERE id = $1', [jobId])).rows).toEqual([{ status: 'completed', outcome: 'completed' }]);

    const rejected = await bulkCall(sid(4), 'reserved', true);
    const failed = await counted(() => applyCallStatus(own.database, { callId: rejected.callId, status: 'busy', permanent: true }));
    expect(failed.applied).toMatchObject({ result: 'applied', previous: 'reserved', status: 'busy', freedSlot: true, retryQueued: false });
    expect(failed.statements).toEqual(['WITH']);
    expect((await own.database.pool.query('SELECT count(*)::int AS n FROM outbound_call_jobs WHERE run_id = (SELECT run_id FROM outbound_call_jobs WHERE id = $1)', [rejected.jobId])).rows).toEqual([{ n: 1 }]);
  });

  test('a busy callback of a run being canceled queues no retry: it waits for the cancel, then finds the run no longer dialing', async () => {
    const { callId, jobId } = await bulkCall(sid(30), 'in-progress', true);
    const runId: string = (await own.database.pool.query('SELECT run_id FROM outbound_call_jobs WHERE id = $1', [jobId])).rows[0].run_id;
    // A cancel in flight (run-lifecycle.ts transitionRun): the run's row changed and its queued jobs ended, not yet committed.
    const cancel = await own.database.pool.connect();
    try {
      await cancel.query('BEGIN');
      await cancel.query(`UPDATE bulk_call_runs SET status = 'canceling' WHERE id = $1`, [runId]);
      await endQueuedJobs(cancel, runId, 'canceled', 5_000);
      let settled = false;
      const busy = applyCallStatus(own.database, { callId, callSid: sid(30), status: 'busy' }).finally(() => (settled = true));
      // Until the retry's insert waits on the run's row (polled, not slept for), or the callback is done without waiting.
      while (!settled) {
        const waiting = await own.admin.pool.query(`SELECT count(*) AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'INSERT INTO outbound_call_jobs%'`);
        if (Number(waiting.rows[0].n) > 0) break;
      }
      await cancel.query('COMMIT');
      expect(await busy).toMatchObject({ result: 'applied', status: 'busy', freedSlot: true, retryQueued: false });
    } finally {
      cancel.release();
    }
    const jobs = await own.database.pool.query('SELECT attempt, status, outcome FROM outbound_call_jobs WHERE run_id = $1 ORDER BY attempt', [runId]);
    expect(jobs.rows).toEqual([{ attempt: 1, status: 'completed', outcome: 'busy' }]);
  });

  test('a status signed for a URL applies only if it is the one the call was given (or it has none); otherwise nothing is written', async () => {
    const given = 'https://api.example.com/v1/twilio/status?callId=x';
    const callId = await directCall('reserved');
    await own.database.pool.query('UPDATE calls SET status_callback_url = $2 WHERE id = $1', [callId, given]);
    for (const status of ['ringing', 'completed'] as const) {
      await expect(applyCallStatus(own.database, { callId, callSid: sid(20), status, signedFor: 'https://moved.example.com/v1/twilio/status?callId=x' })).rejects.toBeInstanceOf(
        SignedForAnotherUrl,
      );
    }
    expect(await state(callId)).toMatchObject({ status: 'reserved', twilio_call_sid: null, ended: false });
    expect(await applyCallStatus(own.database, { callId, callSid: sid(20), status: 'ringing', signedFor: given })).toMatchObject({ result: 'applied', status: 'ringing' });
    const withoutUrl = await directCall('ringing', sid(21));
    expect(await applyCallStatus(own.database, { callId: withoutUrl, callSid: sid(21), status: 'completed', signedFor: given })).toMatchObject({ result: 'applied', freedSlot: true });
  });

  /** A non-terminal case: the call as it starts, the status sent, and what must come of it. */
  interface Case {
    name: string;
    /** `s(i)`: the i-th SID of this run of the case (SIDs are unique across calls). */
    start: ((s: Sids) => { status: CallStatus; callSid: string | null }) | null;
    update: (callId: string, s: Sids) => CallStatusUpdate;
    expected: Record<string, unknown> & { result: AppliedStatus['result'] };
    after: ((s: Sids) => Record<string, unknown>) | null;
  }
  type Sids = (i: number) => string;
  let n = 100;
  const cases: Case[] = [
    {
      name: 'a forward move (and its SID learned)',
      start: () => ({ status: 'reserved', callSid: null }),
      update: (callId, s) => ({ callId, callSid: s(0), status: 'ringing', sequenceNumber: 1 }),
      expected: { result: 'applied', previous: 'reserved', status: 'ringing', freedSlot: false, retryQueued: false, runId: null, jobId: null },
      after: (s) => ({ status: 'ringing', twilio_call_sid: s(0), last_sequence_number: 1, answered: false, ended: false, events: ['call.dialed'] }),
    },
    {
      name: 'an answer found by SID alone',
      start: (s) => ({ status: 'ringing', callSid: s(1) }),
      update: (_callId, s) => ({ callSid: s(1), status: 'in-progress', sequenceNumber: 2 }),
      expected: { result: 'applied', previous: 'ringing', status: 'in-progress' },
      after: (s) => ({ status: 'in-progress', twilio_call_sid: s(1), last_sequence_number: 2, answered: true, ended: false, events: ['call.answered'] }),
    },
    {
      name: 'a duplicate',
      start: (s) => ({ status: 'ringing', callSid: s(2) }),
      update: (callId, s) => ({ callId, callSid: s(2), status: 'ringing', sequenceNumber: 1 }),
      expected: { result: 'unchanged', status: 'ringing' },
      after: (s) => ({ status: 'ringing', twilio_call_sid: s(2), last_sequence_number: null, events: [] }),
    },
    {
      name: 'a move backwards',
      start: (s) => ({ status: 'in-progress', callSid: s(3) }),
      update: (callId, s) => ({ callId, callSid: s(3), status: 'ringing' }),
      expected: { result: 'unchanged', status: 'in-progress' },
      after: () => ({ status: 'in-progress', last_sequence_number: null, events: [] }),
    },
    {
      name: 'a status after the end',
      start: (s) => ({ status: 'completed', callSid: s(4) }),
      update: (callId, s) => ({ callId, callSid: s(4), status: 'in-progress' }),
      expected: { result: 'unchanged', status: 'completed' },
      after: () => ({ status: 'completed', answered: false, events: [] }),
    },
    {
      name: 'a SID mismatch',
      start: (s) => ({ status: 'ringing', callSid: s(5) }),
      update: (callId, s) => ({ callId, callSid: s(6), status: 'in-progress' }),
      expected: { result: 'sid-mismatch' },
      after: (s) => ({ status: 'ringing', twilio_call_sid: s(5), answered: false, events: [] }),
    },
    {
      name: 'an unknown call',
      start: null,
      update: (_callId, s) => ({ callId: randomUUID(), callSid: s(7), status: 'ringing' }),
      expected: { result: 'not-found' },
      after: null,
    },
    {
      name: 'an unknown SID',
      start: null,
      update: (_callId, s) => ({ callSid: s(8), status: 'ringing' }),
      expected: { result: 'not-found' },
      after: null,
    },
    {
      name: 'a late status that teaches the SID',
      start: () => ({ status: 'ringing', callSid: null }),
      update: (callId, s) => ({ callId, callSid: s(9), status: 'initiated', sequenceNumber: 0 }),
      expected: { result: 'unchanged', status: 'ringing' },
      after: (s) => ({ status: 'ringing', twilio_call_sid: s(9), last_sequence_number: null, events: [] }),
    },
  ];

  test("a status change's transaction commits without waiting for the WAL flush when the database says so, and waits otherwise", async () => {
    for (const flushLater of [true, false]) {
      n += 10;
      const callId = await directCall('initiated', sid(n));
      const change = {
        status: 'completed' as const,
        behind: statusesBehind('completed'),
        callSid: sid(n),
        sequenceNumber: null,
        durationSeconds: 3,
        errorCode: null,
        errorMessage: null,
        finishJobAs: null,
        unlessRetryable: false,
        signedFor: null,
        flushLater,
      };
      const changed = await changeCallStatus(own.database.pool, { callId }, change);
      expect(changed).toMatchObject({ result: 'applied', commit_mode: flushLater ? 'off' : 'on' });
      expect(await state(callId)).toMatchObject({ status: 'completed' });
      // The setting was the transaction's own: the connection's next statement commits as configured.
      expect((await own.database.pool.query("SELECT current_setting('synchronous_commit') AS mode")).rows).toEqual([{ mode: 'on' }]);
    }
  });

  for (const c of cases) {
    test(`${c.name}: the same outcome in one statement as in a transaction`, async () => {
      for (const hook of [undefined, async () => undefined]) {
        // Each way on a call of its own (SIDs are unique across calls).
        n += 10;
        const base = n;
        const s: Sids = (i) => sid(base + i);
        const start = c.start?.(s);
        const callId = start ? await directCall(start.status, start.callSid) : randomUUID();
        const update = c.update(callId, s);
        const eventsBefore = (await eventsOf(callId)).length;
        const { applied, statements } = await counted(() => applyCallStatus(own.database, update, hook));
        expect(applied).toMatchObject(c.expected);
        if (c.expected.result !== 'not-found') expect(applied).toMatchObject({ callId });
        if (c.expected.result === 'applied') expect(applied).toMatchObject({ businessId });
        expect(statements[0]).toBe(hook ? 'BEGIN' : 'WITH');
        if (!hook) expect(statements).toHaveLength(1);
        if (c.after) {
          const after = await state(callId);
          // `events`: those the status recorded (an inserted call has its own).
          expect({ ...after, events: (await eventsOf(callId)).slice(eventsBefore) }).toMatchObject(c.after(s));
        }
      }
    });
  }
});
