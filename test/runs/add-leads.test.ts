import { createRunLifecycleActivities } from '../../src/activities/run-lifecycle';
import { addLeads } from '../../src/domain/runs/add-leads';
import { oneChunk, type LeadInput } from '../../src/domain/runs/create-run';
import { insertLeadsAndJobs } from '../../src/db/queries/jobs';
import { acceptAddedLeads, lockRunList } from '../../src/db/queries/runs';
import { leadPhones, OutdialTestStack, pollFor, pollUntil } from '../helpers/outdial';

interface Added {
  run: { id: string; status: string; jobs: Record<string, number>; duplicatesMerged: number };
  added: number;
  duplicatesMerged: number;
  error: { code: string; message: string; details?: unknown };
}

/**
 * Leads added to a run that exists: dialed after those it holds, merged by number, refused once the
 * run has begun to end, and never lost to a finish that races them (on the real Postgres, Temporal
 * and sandbox carrier).
 */
describe('adding leads to a run', () => {
  let stack: OutdialTestStack;
  beforeAll(async () => {
    stack = await OutdialTestStack.start({ wakeFallbackSeconds: 3600, carrier: { defaultScript: { dialMs: 1, ringMs: 2, talkMs: 3 } } });
    await stack.startWorker();
  });
  afterAll(async () => {
    await stack.stop();
  });

  const add = (runId: string, body: unknown, opts: Parameters<OutdialTestStack['api']>[3] = {}) => stack.api<Added>('POST', `/v1/runs/${runId}/leads`, body, opts);
  const leadRows = async (runId: string) =>
    (await stack.database.pool.query<{ phone: string; position: number; name: string | null }>(
      'SELECT l.phone, j.position, l.name FROM outbound_call_jobs j JOIN leads l ON l.id = j.lead_id WHERE j.run_id = $1 AND j.attempt = 1 ORDER BY j.position',
      [runId],
    )).rows;
  const leadsOfBusiness = async (businessId: string) => Number((await stack.database.pool.query('SELECT count(*) FROM leads WHERE business_id = $1', [businessId])).rows[0].count);

  test('leads added while the run dials its last call are dialed after it, each number once, and the run completes with them', async () => {
    const business = await stack.createBusiness({ maxConcurrentCalls: 1 });
    const [first, second, ...more] = leadPhones(5, '+1415710');
    stack.carrier.setScripts([{ to: second!, outcome: 'hold' }]);
    const run = await stack.createRun(business.id, [first!, second!]);
    // The run's last queued lead is live at the carrier: nothing is left to claim, the run waits for it.
    const [held] = await stack.carrier.waitForCalls(1, { to: second! });

    const res = await add(run.id, { leads: [{ phone: more[0] }, { phone: first }, { phone: more[1], name: 'Ada' }, { phone: more[0] }, { phone: more[2] }] });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ added: 3, duplicatesMerged: 2, run: { id: run.id, duplicatesMerged: 2, jobs: { total: 5 } } });
    // In the run's event log (the streams, the webhooks), from the addition's own transaction.
    const events = await stack.database.pool.query("SELECT data FROM events WHERE run_id = $1 AND type = 'leads.added'", [run.id]);
    expect(events.rows).toEqual([{ data: { added: 3, duplicatesMerged: 2 } }]);
    stack.carrier.releaseCall(held!.sid);

    const done = await stack.runResult(run);
    expect(done).toMatchObject({ status: 'completed', jobs: { total: 5, completed: 5 } });
    // At the carrier: each number once, the added ones after the run's own, in the order given.
    const dialed = stack.carrier.calls({ from: business.callerId }).sort((a, b) => a.createdAt - b.createdAt).map((c) => c.to);
    expect(dialed).toEqual([first, second, more[0], more[1], more[2]]);
    expect((await leadRows(run.id)).map((l) => [l.phone, l.position])).toEqual([
      [first, 0],
      [second, 1],
      [more[0], 2],
      [more[1], 3],
      [more[2], 4],
    ]);
  });

  test('a paused run takes leads; allowDuplicates keeps a number it holds; a CSV adds its other columns as variables', async () => {
    const business = await stack.createBusiness({ maxConcurrentCalls: 2 });
    const phones = leadPhones(3, '+1415711');
    const open = await stack.api<{ run: { id: string; workflowId: string } }>('POST', `/v1/businesses/${business.id}/runs`, {
      leads: [{ phone: phones[0] }],
      startAt: new Date(Date.now() + 3_600_000).toISOString(),
    });
    expect(open.status).toBe(201);
    const openRun = open.body.run;
    expect((await stack.api('POST', `/v1/runs/${openRun.id}/pause`)).status).toBe(200);

    const again = await add(openRun.id, { leads: [{ phone: phones[0] }, { phone: phones[1] }], allowDuplicates: true });
    expect(again).toMatchObject({ status: 201, body: { added: 2, duplicatesMerged: 0, run: { status: 'paused', jobs: { total: 3 } } } });
    const csv = await fetch(`${stack.apiUrl}/v1/runs/${openRun.id}/leads?phoneColumn=Number`, {
      method: 'POST',
      headers: { authorization: `Bearer ${stack.adminKey}`, 'content-type': 'text/csv' },
      body: ['Number,Name,First Name', `${phones[2]},Lead 2,Grace`, `${phones[1]},Again,x`].join('\n'),
    });
    expect(csv.status).toBe(201);
    expect(await csv.json()).toMatchObject({ added: 1, duplicatesMerged: 1 });
    const vars = await stack.database.pool.query(
      'SELECT l.variables FROM outbound_call_jobs j JOIN leads l ON l.id = j.lead_id WHERE j.run_id = $1 AND l.phone = $2',
      [openRun.id, phones[2]],
    );
    expect(vars.rows).toEqual([{ variables: { first_name: 'Grace' } }]);
    expect((await leadRows(openRun.id)).map((l) => l.position)).toEqual([0, 1, 2, 3]);
  });

  test('a run that has ended refuses leads with 409 naming its status; bad rows are refused with 400 naming each; nothing is written', async () => {
    const business = await stack.createBusiness();
    const run = await stack.createRun(business.id, leadPhones(1, '+1415712'));
    await stack.runResult(run);
    const before = await leadsOfBusiness(business.id);

    const ended = await add(run.id, { leads: [{ phone: '+14157129999' }] });
    expect(ended).toMatchObject({ status: 409, body: { error: { code: 'run_not_accepting_leads', details: { status: 'completed' } } } });
    expect(ended.body.error.message).toContain('is completed');

    const bad = await add(run.id, { leads: [{ phone: '+14157129998' }, { phone: '415' }, { phone: '+14157129997', extra: 1 }] });
    expect(bad).toMatchObject({ status: 400, body: { error: { code: 'invalid_leads', details: [{ index: 1, field: 'phone' }, { index: 2 }] } } });
    expect(bad.body.error.message).toContain('2 of 3 leads are invalid; nothing was added');
    expect((await add(run.id, { leads: [] })).status).toBe(400);
    expect((await add(run.id, { leads: [{ phone: '+14157129996' }], callerId: '+14155550100' })).status).toBe(400);
    expect(await leadsOfBusiness(business.id)).toBe(before);
    expect((await stack.database.pool.query("SELECT count(*) FROM events WHERE run_id = $1 AND type = 'leads.added'", [run.id])).rows[0].count).toBe('0');

    // A run that has not ended but whose stopAt has passed: its leads would only expire.
    const open = await stack.api<{ run: { id: string } }>('POST', `/v1/businesses/${business.id}/runs`, { leads: [{ phone: '+14157129995' }], startAt: new Date(Date.now() + 3_600_000).toISOString() });
    await stack.database.pool.query("UPDATE bulk_call_runs SET stop_at = now() - interval '1 second' WHERE id = $1", [open.body.run.id]);
    const stopped = await add(open.body.run.id, { leads: [{ phone: '+14157129994' }] });
    expect(stopped).toMatchObject({ status: 409, body: { error: { code: 'run_not_accepting_leads' } } });
    expect(stopped.body.error.message).toContain('passed its stopAt');
    expect(await leadsOfBusiness(business.id)).toBe(before + 1);
  });

  test("another business's key cannot see the run (404); a retried request with the same Idempotency-Key adds nothing twice", async () => {
    const business = await stack.createBusiness({ maxConcurrentCalls: 1 });
    const other = await stack.createBusiness();
    const otherKey = await stack.api<{ apiKey: { secret: string } }>('POST', `/v1/businesses/${other.id}/api-keys`, { name: 'other' });
    const phones = leadPhones(3, '+1415713');
    const open = await stack.api<{ run: { id: string } }>('POST', `/v1/businesses/${business.id}/runs`, {
      leads: [{ phone: phones[0] }],
      startAt: new Date(Date.now() + 3_600_000).toISOString(),
    });
    const runId = open.body.run.id;

    const foreign = await add(runId, { leads: [{ phone: phones[1] }] }, { key: otherKey.body.apiKey.secret });
    expect(foreign).toMatchObject({ status: 404, body: { error: { code: 'not_found' } } });

    const headers = { 'idempotency-key': 'add-once' };
    const once = await add(runId, { leads: [{ phone: phones[1] }, { phone: phones[2] }] }, { headers });
    // The retry comes after the run was canceled: it replays the first answer all the same.
    expect((await stack.api('POST', `/v1/runs/${runId}/cancel`)).status).toBe(200);
    const twice = await add(runId, { leads: [{ phone: phones[1] }, { phone: phones[2] }] }, { headers });
    expect(once).toMatchObject({ status: 201, body: { added: 2 } });
    expect(twice.status).toBe(201);
    expect(twice.body).toEqual(once.body);
    expect((await leadRows(runId)).map((l) => l.phone)).toEqual(phones);
    const reused = await add(runId, { leads: [{ phone: '+14157139999' }] }, { headers });
    expect(reused.status).toBe(422);
    // A new key on the canceled run: refused for what the run is; a callAt Postgres cannot store, for what it is.
    expect((await add(runId, { leads: [{ phone: '+14157139998' }] }, { headers: { 'idempotency-key': 'add-late' } })).status).toBe(409);
    expect((await add(runId, { leads: [{ phone: '+14157139997', callAt: '0000-01-01T00:00:00Z' }] })).body).toMatchObject({ error: { code: 'invalid_leads', details: [{ field: 'callAt' }] } });
    expect(await leadRows(runId)).toHaveLength(3);
  });

  test('a run holds at most maxLeads: leads past it are refused whole', async () => {
    const business = await stack.createBusiness();
    const open = await stack.api<{ run: { id: string } }>('POST', `/v1/businesses/${business.id}/runs`, {
      leads: leadPhones(2, '+1415714').map((phone) => ({ phone })),
      startAt: new Date(Date.now() + 3_600_000).toISOString(),
    });
    const runId = open.body.run.id;
    const result = await addLeads(stack.deps(), { runId, leads: oneChunk(leadPhones(2, '+1415715').map((phone) => ({ phone }))), maxLeads: 3 });
    expect(result).toEqual({ ok: false, reason: 'too-many-leads', maxLeads: 3, held: 2 });
    expect(await leadRows(runId)).toHaveLength(2);
  });

  test('a lead added whose window opens before the run was to wake is dialed at its opening, not at the run’s', async () => {
    const business = await stack.createBusiness();
    const now = new Date();
    const opensAt = new Date(now.getTime() + 3_000);
    // One window in local time, opening in 3 s in UTC: in Tokyo that opening is 15 hours away.
    const hhmmss = (at: Date) => at.toISOString().slice(11, 19);
    const window = { start: hhmmss(opensAt), end: hhmmss(new Date(now.getTime() + 3_600_000)) };
    const [tokyo, utc] = ['+14157210001', '+14157210002'];
    const created = await stack.api<{ run: { id: string; workflowId: string } }>('POST', `/v1/businesses/${business.id}/runs`, {
      callingWindow: window,
      leads: [{ phone: tokyo, timeZone: 'Asia/Tokyo' }],
    });
    const run = created.body.run;
    const asleep = await pollFor(() => stack.getRun(run.id), (r) => r.waiting?.reason === 'calling-window');
    expect(Date.parse(asleep.waiting!.until!) - now.getTime()).toBeGreaterThan(10 * 3_600_000);

    expect((await add(run.id, { leads: [{ phone: utc, timeZone: 'UTC' }] })).status).toBe(201);
    const [call] = await stack.carrier.waitForCalls(1, { to: utc }, { timeoutMs: 20_000 });
    expect(call!.createdAt).toBeGreaterThanOrEqual(opensAt.getTime() - 1_000);
    expect(stack.carrier.calls({ to: tokyo })).toHaveLength(0);
    expect((await stack.api('POST', `/v1/runs/${run.id}/cancel`)).status).toBe(200);
  });

  test('a run kept open waits for leads once its own are done, dials those added, and completes once closed', async () => {
    const business = await stack.createBusiness({ maxConcurrentCalls: 2 });
    const phones = leadPhones(4, '+1415718');
    const created = await stack.api<{ run: { id: string; workflowId: string; keepOpen: boolean } }>('POST', `/v1/businesses/${business.id}/runs`, {
      leads: phones.slice(0, 2).map((phone) => ({ phone })),
      keepOpen: true,
    });
    expect(created).toMatchObject({ status: 201, body: { run: { keepOpen: true } } });
    const run = created.body.run;
    // Its leads done, it is still running and says it waits for leads; its workflow sleeps, it does not finish.
    const idle = await pollFor(() => stack.getRun(run.id), (r) => r.jobs.completed === 2 && r.waiting?.reason === 'leads');
    expect(idle.status).toBe('running');
    // Its last call's end woke it: its pass found nothing left and the run open.
    expect(await pollFor(() => stack.latestPass(run.workflowId), (p) => p?.dialing === 0)).toMatchObject({ queued: 0, dialing: 0, keptOpen: true });
    expect((await stack.getRun(run.id)).finishedAt).toBeNull();

    expect((await add(run.id, { leads: phones.slice(2).map((phone) => ({ phone })) })).status).toBe(201);
    await pollFor(() => stack.getRun(run.id), (r) => r.jobs.completed === 4);
    expect((await stack.getRun(run.id)).status).toBe('running');

    const closed = await stack.api<{ run: { keepOpen: boolean } }>('POST', `/v1/runs/${run.id}/close`);
    expect(closed).toMatchObject({ status: 200, body: { run: { keepOpen: false } } });
    expect(await stack.runResult(run)).toMatchObject({ status: 'completed', jobs: { total: 4, completed: 4 } });
    expect(stack.carrier.calls({ from: business.callerId }).map((c) => c.to).sort()).toEqual([...phones].sort());
    // Closing again, or a run never kept open, answers the run as it stands.
    expect(await stack.api('POST', `/v1/runs/${run.id}/close`)).toMatchObject({ status: 200, body: { run: { status: 'completed', keepOpen: false } } });
    expect((await add(run.id, { leads: [{ phone: '+14157189999' }] })).status).toBe(409);
  });

  test('a run kept open with a stopAt completes at its stopAt without a close', async () => {
    const business = await stack.createBusiness();
    const stopAt = new Date(Date.now() + 2_000);
    const created = await stack.api<{ run: { id: string; workflowId: string } }>('POST', `/v1/businesses/${business.id}/runs`, {
      leads: [{ phone: '+14157190001' }],
      keepOpen: true,
      stopAt: stopAt.toISOString(),
    });
    const done = await stack.runResult(created.body.run);
    expect(done).toMatchObject({ status: 'completed', jobs: { total: 1, completed: 1 } });
    expect(Date.parse(done.finishedAt!)).toBeGreaterThanOrEqual(stopAt.getTime());
    // An ended run is answered as it stands: a close changes nothing.
    expect(await stack.api('POST', `/v1/runs/${created.body.run.id}/close`)).toMatchObject({ status: 200, body: { run: { status: 'completed', keepOpen: true } } });
  });

  /**
   * The finish and an addition, each in the order that could lose leads. An addition that holds the
   * run's lock first: the finish waits for it and then sees its leads (the run is not completed with
   * leads queued). A finish that commits while an addition is still writing: the addition is refused
   * whole. Driven through the activity and the domain on a run whose workflow is not polled.
   */
  describe('racing the finish', () => {
    let idle: OutdialTestStack;
    beforeAll(async () => {
      idle = await OutdialTestStack.start();
    });
    afterAll(async () => {
      await idle.stop();
    });

    /** A run whose every job is done and whose status is running: what its workflow's last pass saw. */
    async function doneRun(prefix: string) {
      const business = await idle.createBusiness();
      const run = await idle.createRun(business.id, leadPhones(2, prefix));
      await idle.database.pool.query("UPDATE bulk_call_runs SET status = 'running' WHERE id = $1", [run.id]);
      await idle.database.pool.query("UPDATE outbound_call_jobs SET status = 'completed' WHERE run_id = $1", [run.id]);
      return { ...run, businessId: business.id };
    }
    const lifecycle = () => createRunLifecycleActivities({ database: idle.database, logger: idle.logger, config: idle.config });
    const statusOf = async (runId: string) => (await idle.database.pool.query('SELECT status FROM bulk_call_runs WHERE id = $1', [runId])).rows[0].status as string;
    const queued = async (runId: string) => Number((await idle.database.pool.query("SELECT count(*) FROM outbound_call_jobs WHERE run_id = $1 AND status = 'queued'", [runId])).rows[0].count);

    test('a finish that waits on an addition holding the run sees its leads: the run stays running, its workflow dials on', async () => {
      const run = await doneRun('+1415716');
      const client = await idle.database.pool.connect();
      try {
        await client.query('BEGIN');
        await lockRunList(client, run.id);
        await insertLeadsAndJobs(client, { id: run.id, businessId: run.businessId }, [{ phone: '+14157169999' }], 2);
        expect(await acceptAddedLeads(client, run.id, 0)).not.toBeNull();
        const pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
        const finishing = lifecycle().finishRun({ runId: run.id, status: 'completed' });
        await pollUntil(async () => (await idle.database.pool.query('SELECT 1 FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))', [pid])).rowCount === 1);
        await client.query('COMMIT');
        expect(await finishing).toEqual({ finished: false });
      } finally {
        client.release();
      }
      expect(await statusOf(run.id)).toBe('running');
      expect(await queued(run.id)).toBe(1);
      // Once that lead is done too, the finish completes the run; a retry of it after it committed finds it done.
      await idle.database.pool.query("UPDATE outbound_call_jobs SET status = 'completed' WHERE run_id = $1", [run.id]);
      expect(await lifecycle().finishRun({ runId: run.id, status: 'completed' })).toEqual({ finished: true });
      expect(await lifecycle().finishRun({ runId: run.id, status: 'completed' })).toEqual({ finished: true });
      expect(await statusOf(run.id)).toBe('completed');
    });

    test('a run kept open is not completed with every lead done; once closed, or past its stopAt, it is', async () => {
      const run = await doneRun('+1415720');
      await idle.database.pool.query('UPDATE bulk_call_runs SET keep_open = true WHERE id = $1', [run.id]);
      expect(await lifecycle().finishRun({ runId: run.id, status: 'completed' })).toEqual({ finished: false });
      expect(await statusOf(run.id)).toBe('running');
      await idle.database.pool.query("UPDATE bulk_call_runs SET stop_at = now() - interval '1 second' WHERE id = $1", [run.id]);
      expect(await lifecycle().finishRun({ runId: run.id, status: 'completed' })).toEqual({ finished: true });
      expect(await statusOf(run.id)).toBe('completed');
    });

    test('a finish that commits while an addition is still writing: the addition is refused and writes nothing', async () => {
      const run = await doneRun('+1415717');
      let release!: () => void;
      const released = new Promise<void>((resolve) => (release = resolve));
      let firstWritten!: () => void;
      const written = new Promise<void>((resolve) => (firstWritten = resolve));
      async function* slowList(): AsyncGenerator<LeadInput[]> {
        yield [{ phone: '+14157179999' }];
        firstWritten();
        await released;
        yield [{ phone: '+14157179998' }];
      }
      const adding = addLeads(idle.deps(), { runId: run.id, leads: slowList(), maxLeads: 100 });
      await written;
      expect(await lifecycle().finishRun({ runId: run.id, status: 'completed' })).toEqual({ finished: true });
      release();
      expect(await adding).toEqual({ ok: false, reason: 'not-accepting', status: 'completed', pastStopAt: null });
      expect(await statusOf(run.id)).toBe('completed');
      expect((await idle.database.pool.query('SELECT count(*) FROM outbound_call_jobs WHERE run_id = $1', [run.id])).rows[0].count).toBe('2');
    });
  });
});
