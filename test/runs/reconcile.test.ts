import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createApp } from '../../src/api/app';
import { createDatabase, migrateDatabase, type Database } from '../../src/db/client';
import { reserveDirectCall } from '../../src/claim/direct';
import { reconcileStaleCalls } from '../../src/calls/reconcile';
import { withdrawableAfterSeconds } from '../../src/calls/place-call';
import { recordPlaced } from '../../src/db/queries/calls';
import type { TelephonyClient } from '../../src/telephony/client';
import { ensureReconcileSchedule } from '../../src/temporal/reconcile-schedule';
import { reconcile } from '../../src/workflows';
import { connectTestDatabase, createEmptyDatabase } from '../helpers/db';
import { leadPhones, OutdialTestStack } from '../helpers/outdial';

/**
 * Lost news about a call is settled by asking the carrier, never by guessing and never by dialing
 * again: the slot stays held until the carrier says the call ended, or that it never existed.
 */
describe('reconciliation with the carrier', () => {
  let stack: OutdialTestStack;

  let admin: Database;
  let ownDatabase: { url: string; drop(): Promise<void> };

  beforeAll(async () => {
    // A database of this file's own: the sweep looks at every business, and must not settle the
    // calls of other test files (which live on other carriers).
    admin = connectTestDatabase();
    ownDatabase = await createEmptyDatabase(admin);
    const migrator = createDatabase(ownDatabase.url, { max: 1 });
    await migrateDatabase(migrator);
    await migrator.close();
    // Calls count as stale after 1 s without news; runs re-check every 2 s when no signal comes.
    stack = await OutdialTestStack.start({
      databaseUrl: ownDatabase.url,
      stalledRunAfterSeconds: 0,
      wakeFallbackSeconds: 2,
      reconcileAfterSeconds: 1,
      // A dial is withdrawable 10 s (the dial bound) + this timeout after it began.
      telephonyTimeoutMs: 2_000,
      carrier: { defaultScript: { dialMs: 2, ringMs: 10, talkMs: 30 } },
    });
    await stack.startWorker();
  });
  afterAll(async () => {
    await stack.stop();
    await ownDatabase.drop();
    await admin.close();
  });

  const callRows = async (runId: string) =>
    (await stack.database.pool.query('SELECT to_number, status, twilio_call_sid FROM calls WHERE run_id = $1 ORDER BY to_number', [runId])).rows;

  test('a call whose final callback never comes is settled from the carrier and frees its slot', async () => {
    const business = await stack.createBusiness();
    const phones = leadPhones(4, '+1415570');
    stack.carrier.setScripts([{ to: phones[0]!, callbackFaults: [{ kind: 'omit-final' }] }]);
    try {
      const run = await stack.createRun(business.id, phones);
      const done = await stack.runResult(run);
      expect(done.status).toBe('completed');
      expect(done.jobs).toMatchObject({ completed: 4, dialing: 0 });
      expect(stack.carrier.calls({ from: business.callerId })).toHaveLength(4);
      expect(stack.carrier.callbacks().filter((c) => c.result === 'omitted')).not.toHaveLength(0);
      expect((await callRows(run.id)).map((r) => r.status)).toEqual(['completed', 'completed', 'completed', 'completed']);
      // Settled by asking the carrier: it was asked about the call whose final callback never came.
      const [quiet] = stack.carrier.calls({ from: business.callerId, to: phones[0]! });
      expect(stack.carrier.requests().some((r) => r.method === 'GET' && r.path.endsWith(`/Calls/${quiet!.sid}.json`))).toBe(true);
    } finally {
      stack.carrier.setScripts([]);
    }
  });

  test('a dial answered 500 that created nothing is withdrawn and dialed once more: the carrier sees each lead once', async () => {
    const business = await stack.createBusiness();
    const phones = leadPhones(3, '+1415571');
    stack.carrier.queueOutcomes([{ createFault: { status: 500 } }]);
    const run = await stack.createRun(business.id, phones);
    const done = await stack.runResult(run);
    expect(done.status).toBe('completed');
    expect(done.jobs).toMatchObject({ completed: 3, failed: 0 });
    const placed = stack.carrier.calls({ from: business.callerId });
    expect(placed.map((c) => c.to).sort()).toEqual([...phones].sort());
    expect(stack.carrier.requests().filter((r) => r.status === 500)).toHaveLength(1);
    // Its reservation was withdrawn after the carrier was searched for it (no SID to ask about): every call row has a SID.
    expect(stack.carrier.requests().some((r) => r.method === 'GET' && r.path.endsWith('/Calls.json'))).toBe(true);
    const rows = await stack.database.pool.query<{ sid: string | null }>('SELECT twilio_call_sid AS sid FROM calls WHERE run_id = $1', [run.id]);
    expect(rows.rows.map((r) => r.sid).sort()).toEqual(placed.map((c) => c.sid).sort());
  });

  test('a dial answered 500 that did create the call, with every callback lost, is found and adopted, never re-dialed', async () => {
    const business = await stack.createBusiness();
    const phones = leadPhones(3, '+1415572');
    stack.carrier.queueOutcomes([{ createFault: { status: 500, created: true }, callbackFaults: [{ kind: 'drop' }] }]);
    const run = await stack.createRun(business.id, phones);
    const done = await stack.runResult(run);
    expect(done.status).toBe('completed');
    expect(done.jobs).toMatchObject({ completed: 3, failed: 0 });
    const placed = stack.carrier.calls({ from: business.callerId });
    expect(placed).toHaveLength(3);
    expect(new Set(placed.map((c) => c.to)).size).toBe(3);
    const rows = await callRows(run.id);
    expect(new Set(rows.map((r) => r.twilio_call_sid))).toEqual(new Set(placed.map((c) => c.sid)));
  });

  test('calls whose check fails are moved back in the queue: the next pass checks the others and settles them', async () => {
    const business = await stack.createBusiness({ maxConcurrentCalls: 50 });
    const deps = stack.deps();
    // Five calls that ended at the carrier while our rows still say in progress (their callbacks lost).
    const ended = await Promise.all(
      leadPhones(5, '+1415578').map((to) => deps.telephony.calls.create({ to, from: business.callerId, twiml: '<Response><Say>hi</Say></Response>' })),
    );
    await Promise.all(ended.map((c) => stack.carrier.waitForCall(c.sid, 'completed')));
    // Twenty more, quiet for longer, whose every fetch fails (the sandbox has no fetch fault: a
    // client that cannot reach the carrier for those SIDs stands in for an unreachable carrier).
    const failingSids = new Set(Array.from({ length: 20 }, () => `CA${randomUUID().replace(/-/g, '')}`));
    const insert = (sid: string, to: string, quietMinutes: number) =>
      stack.database.pool.query(
        `INSERT INTO calls (business_id, direction, status, to_number, from_number, twilio_call_sid, dialed_at, created_at, updated_at)
         VALUES ($1, 'direct', 'in-progress', $2, $3, $4, now() - make_interval(mins => $5), now() - make_interval(mins => $5), now() - make_interval(mins => $5))`,
        [business.id, to, business.callerId, sid, quietMinutes],
      );
    for (const [i, sid] of [...failingSids].entries()) await insert(sid, leadPhones(20, '+1415579')[i]!, 10);
    for (const call of ended) await insert(call.sid, call.to, 5);

    const real = deps.telephony;
    const unreachableError = Object.assign(new Error('connect ETIMEDOUT'), { code: 'ETIMEDOUT' });
    const calls = new Proxy(real.calls, {
      apply: (target, thisArg, args: [string]) => (failingSids.has(args[0]) ? { fetch: () => Promise.reject(unreachableError) } : Reflect.apply(target, thisArg, args)),
    });
    const telephony = new Proxy(real, { get: (target, prop) => (prop === 'calls' ? calls : Reflect.get(target, prop, target)) }) as TelephonyClient;
    const reconcileDeps = { database: stack.database, telephony, logger: stack.logger, config: stack.config };

    // The first pass takes the 20 quietest: every check fails, nothing is settled.
    expect(await reconcileStaleCalls(reconcileDeps, business.id)).toEqual({ settled: 0, withdrawn: 0, freed: 0 });
    // The second pass gets to the five behind them.
    expect(await reconcileStaleCalls(reconcileDeps, business.id)).toEqual({ settled: 5, withdrawn: 0, freed: 5 });
    const rows = await stack.database.pool.query<{ status: string; checks: number; scheduled: boolean }>(
      'SELECT status, checks, next_check_at IS NOT NULL AS scheduled FROM calls WHERE business_id = $1 AND twilio_call_sid = ANY($2) ORDER BY twilio_call_sid',
      [business.id, [...failingSids]],
    );
    expect(rows.rows).toEqual([...failingSids].map(() => ({ status: 'in-progress', checks: 1, scheduled: true })));
    const settled = await stack.database.pool.query('SELECT status FROM calls WHERE twilio_call_sid = ANY($1)', [ended.map((c) => c.sid)]);
    expect(settled.rows.map((r) => r.status)).toEqual(['completed', 'completed', 'completed', 'completed', 'completed']);
  });

  test('a dial with no SID that the carrier does not have is withdrawn only once it is older than the dial bound plus the request timeout', async () => {
    const business = await stack.createBusiness({ maxConcurrentCalls: 2 });
    expect(withdrawableAfterSeconds(stack.config)).toBe(12);
    // As if a worker stamped two dials, one 3 s ago and one a minute ago, and no answer came back
    // (the carrier has neither: the recent one may be a request still on its way).
    const ids: Record<'recent' | 'old', string> = { recent: '', old: '' };
    for (const [age, to] of [['recent', '+14155800001'], ['old', '+14155800002']] as const) {
      const reserved = await reserveDirectCall(stack.database, business.id, { to }, stack.apiUrl);
      if (!reserved.ok) throw new Error(`reservation refused: ${reserved.reason}`);
      ids[age] = reserved.call.callId;
      await stack.database.pool.query(
        `UPDATE calls SET dialed_at = now() - make_interval(secs => $2), next_check_at = now(), last_error = 'dial outcome unknown: timeout' WHERE id = $1`,
        [reserved.call.callId, age === 'recent' ? 3 : 60],
      );
    }
    const deps = { ...stack.deps(), config: stack.config };
    expect(await reconcileStaleCalls(deps, business.id)).toEqual({ settled: 0, withdrawn: 1, freed: 1 });
    const rows = await stack.database.pool.query<{ id: string; status: string; last_error: string; checks: number }>(
      'SELECT id, status, last_error, checks FROM calls WHERE id = ANY($1)',
      [[ids.recent, ids.old]],
    );
    const byId = new Map(rows.rows.map((r) => [r.id, r]));
    expect(byId.get(ids.recent)).toMatchObject({ status: 'reserved', last_error: 'dial outcome unknown: timeout', checks: 1 });
    expect(byId.get(ids.old)).toMatchObject({ status: 'failed', last_error: 'never placed: the carrier has no such call' });
    expect((await stack.api<{ business: { activeCalls: number } }>('GET', `/v1/businesses/${business.id}`)).body.business.activeCalls).toBe(1);
  });

  test('two dials to one number, one answer lost: the carrier\'s call is not adopted while the other create may own it, and each dial ends with its own', async () => {
    const business = await stack.createBusiness({ maxConcurrentCalls: 2 });
    const to = '+14155800021';
    const reserve = async () => {
      const reserved = await reserveDirectCall(stack.database, business.id, { to }, stack.apiUrl);
      if (!reserved.ok) throw new Error(`reservation refused: ${reserved.reason}`);
      return reserved.call.callId;
    };
    // Lost: dialed a minute ago, its create answered 500, and the carrier never made its call.
    const lost = await reserve();
    await stack.database.pool.query(`UPDATE calls SET dialed_at = now() - interval '60 seconds', next_check_at = now(), last_error = 'dial outcome unknown: 500' WHERE id = $1`, [lost]);
    // In flight: dialed just now, the carrier made its call, its SID not recorded yet.
    const inFlight = await reserve();
    await stack.database.pool.query(`UPDATE calls SET dialed_at = now(), next_check_at = now() + interval '1 hour' WHERE id = $1`, [inFlight]);
    const made = await stack.deps().telephony.calls.create({ to, from: business.callerId, twiml: '<Response><Say>hi</Say></Response>' });
    const deps = { ...stack.deps(), config: stack.config };

    expect(await reconcileStaleCalls(deps, business.id)).toEqual({ settled: 0, withdrawn: 0, freed: 0 });
    const row = async (id: string) => (await stack.database.pool.query('SELECT status, twilio_call_sid FROM calls WHERE id = $1', [id])).rows[0];
    expect(await row(lost)).toEqual({ status: 'reserved', twilio_call_sid: null });

    // The create's answer arrives: the call is the in-flight dial's. Asked again, the lost dial finds no call of its own.
    await recordPlaced(stack.database.pool, [{ id: inFlight, sid: made.sid }]);
    await stack.database.pool.query('UPDATE calls SET next_check_at = now() WHERE id = $1', [lost]);
    expect(await reconcileStaleCalls(deps, business.id)).toMatchObject({ withdrawn: 1 });
    expect(await row(lost)).toEqual({ status: 'failed', twilio_call_sid: null });
    expect(await row(inFlight)).toMatchObject({ twilio_call_sid: made.sid });
  });

  test('a direct call refused at the limit is let in once the carrier confirms the blocking call ended', async () => {
    const business = await stack.createBusiness({ maxConcurrentCalls: 1 });
    stack.carrier.setScripts([{ to: '+14155730001', callbackFaults: [{ kind: 'omit-final' }] }]);
    try {
      expect((await stack.api('POST', `/v1/businesses/${business.id}/calls`, { to: '+14155730001' })).status).toBe(201);
      await stack.carrier.waitFor(() => stack.carrier.calls({ from: business.callerId, status: 'completed' }).length === 1);
      // Our row still says in progress; each refused attempt asks the carrier about calls quiet for over 1 s.
      const statuses: number[] = [];
      const deadline = Date.now() + 30_000;
      while (Date.now() < deadline) {
        const res = await stack.api('POST', `/v1/businesses/${business.id}/calls`, { to: '+14155730002' });
        statuses.push(res.status);
        if (res.status === 201) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(statuses[0]).toBe(429);
      expect(statuses.at(-1)).toBe(201);
      expect(stack.carrier.stats().perFrom[business.callerId]?.peak).toBe(1);
    } finally {
      stack.carrier.setScripts([]);
    }
  });

  test('reservations a dead process left behind (never dialed) are withdrawn without asking the carrier, and the run proceeds', async () => {
    const business = await stack.createBusiness({ maxConcurrentCalls: 2 });
    // As if an API process died between reserving two direct calls and dialing them.
    for (const to of ['+14155740001', '+14155740002']) {
      expect((await reserveDirectCall(stack.database, business.id, { to }, stack.apiUrl)).ok).toBe(true);
    }
    const listsBefore = stack.carrier.requests().filter((r) => r.method === 'GET' && r.path.endsWith('/Calls.json')).length;
    const phones = leadPhones(3, '+1415575');
    const run = await stack.createRun(business.id, phones);
    const done = await stack.runResult(run);
    expect(done.status).toBe('completed');
    expect(stack.carrier.calls({ from: business.callerId }).map((c) => c.to).sort()).toEqual([...phones].sort());
    expect(stack.carrier.requests().filter((r) => r.method === 'GET' && r.path.endsWith('/Calls.json')).length).toBe(listsBefore);
    const orphans = await stack.database.pool.query("SELECT status, last_error FROM calls WHERE business_id = $1 AND direction = 'direct'", [business.id]);
    expect(orphans.rows).toEqual([
      { status: 'failed', last_error: 'never dialed: the reservation was left behind' },
      { status: 'failed', last_error: 'never dialed: the reservation was left behind' },
    ]);
  });

  test('the sweep workflow settles a business that has no live run', async () => {
    const business = await stack.createBusiness();
    stack.carrier.setScripts([{ to: '+14155760001', callbackFaults: [{ kind: 'omit-final' }] }]);
    try {
      const placed = await stack.api<{ call: { id: string; twilioCallSid: string } }>('POST', `/v1/businesses/${business.id}/calls`, { to: '+14155760001' });
      expect(placed.status).toBe(201);
      await stack.carrier.waitForCall(placed.body.call.twilioCallSid, 'completed');
      const swept: { calls: { settled: number } }[] = [];
      const deadline = Date.now() + 30_000;
      // Sweep until the call has been quiet long enough (1 s here) to be asked about.
      while (Date.now() < deadline) {
        swept.push(await stack.temporal.client.workflow.execute(reconcile, { taskQueue: stack.taskQueue, workflowId: `sweep-${randomUUID()}` }));
        const status = (await stack.database.pool.query('SELECT status FROM calls WHERE id = $1', [placed.body.call.id])).rows[0].status;
        if (status === 'completed') break;
        await new Promise((r) => setTimeout(r, 200));
      }
      expect(swept.at(-1)!.calls.settled).toBeGreaterThanOrEqual(1);
      expect((await stack.api<{ business: { activeCalls: number } }>('GET', `/v1/businesses/${business.id}`)).body.business.activeCalls).toBe(0);
    } finally {
      stack.carrier.setScripts([]);
    }
  });

  test('a run whose workflow start failed after the commit is started by the sweep and completes, every lead dialed once', async () => {
    // An API whose Temporal start is lost after the run committed (as when the process dies in between).
    const client = stack.temporal.client;
    const lostStart = new Proxy(client.workflow, {
      get: (target, prop) => (prop === 'start' ? async () => Promise.reject(new Error('injected: the start never reached Temporal')) : Reflect.get(target, prop, target)),
    });
    const failingClient = new Proxy(client, { get: (target, prop) => (prop === 'workflow' ? lostStart : Reflect.get(target, prop, target)) });
    const api = http.createServer(createApp({ ...stack.deps(), temporal: failingClient }));
    await new Promise<void>((r) => api.listen(0, '127.0.0.1', r));
    const business = await stack.createBusiness();
    const phones = leadPhones(5, '+1415577');
    try {
      const res = await fetch(`http://127.0.0.1:${(api.address() as AddressInfo).port}/v1/businesses/${business.id}/runs`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${stack.adminKey}` },
        body: JSON.stringify({ leads: phones.map((phone) => ({ phone })) }),
      });
      expect(res.status).toBe(201);
      const { run } = (await res.json()) as { run: { id: string; workflowId: string; status: string } };
      expect(run.status).toBe('pending');
      await expect(client.workflow.getHandle(run.workflowId).describe()).rejects.toThrow();

      const swept = await client.workflow.execute(reconcile, { taskQueue: stack.taskQueue, workflowId: `sweep-${randomUUID()}` });
      expect(swept.runs.started).toBeGreaterThanOrEqual(1);
      const done = await stack.runResult(run);
      expect(done.status).toBe('completed');
      expect(done.jobs).toMatchObject({ total: 5, completed: 5 });
      const calls = stack.carrier.calls({ from: business.callerId }).map((c) => c.to);
      expect(calls.sort()).toEqual([...phones].sort());
      // A second sweep finds nothing to start, and a second start of the same run is refused by its workflow ID.
      const again = await client.workflow.execute(reconcile, { taskQueue: stack.taskQueue, workflowId: `sweep-${randomUUID()}` });
      expect(again.runs.started).toBe(0);
      expect(stack.carrier.calls({ from: business.callerId })).toHaveLength(5);
    } finally {
      api.close();
    }
  });

  test('workers create the sweep schedule once: every minute, one sweep at a time; a changed interval updates it', async () => {
    const scheduleId = `test-reconcile-${randomUUID()}`;
    const options = { taskQueue: stack.taskQueue, everySeconds: 60, logger: stack.logger, scheduleId };
    await ensureReconcileSchedule(stack.temporal.client, options);
    await ensureReconcileSchedule(stack.temporal.client, options);
    const handle = stack.temporal.client.schedule.getHandle(scheduleId);
    try {
      const described = await handle.describe();
      expect(described.spec.intervals).toMatchObject([{ every: 60_000 }]);
      expect(described.action).toMatchObject({ type: 'startWorkflow', workflowType: 'reconcile', taskQueue: stack.taskQueue });
      expect(described.policies.overlap).toBe('SKIP');
      await ensureReconcileSchedule(stack.temporal.client, { ...options, everySeconds: 15 });
      const updated = await handle.describe();
      expect(updated.spec.intervals).toMatchObject([{ every: 15_000 }]);
      expect(updated.action).toMatchObject({ type: 'startWorkflow', workflowType: 'reconcile', taskQueue: stack.taskQueue });
      expect(updated.policies.overlap).toBe('SKIP');
    } finally {
      await handle.delete();
    }
  });
});
