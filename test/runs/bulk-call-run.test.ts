import { WorkflowFailedError } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { statusCallbackEvents } from '../../src/calls/status-callback-url';
import type { ManagedProcess } from '../../src/dev/processes';
import { progressQuery } from '../../src/workflows/messages';
import { leadPhones, OutdialTestStack, pollFor, pollUntil } from '../helpers/outdial';

/**
 * BulkCallRun end to end: the real Temporal server, real Postgres, the sandbox carrier.
 * Concurrency is measured where it matters, at the carrier: its peak of simultaneous calls per
 * From number (each business has its own caller ID).
 */


function calledOnce(stack: OutdialTestStack, callerId: string, phones: string[]) {
  const calls = stack.carrier.calls({ from: callerId });
  const perNumber = new Map<string, number>();
  for (const c of calls) perNumber.set(c.to, (perNumber.get(c.to) ?? 0) + 1);
  expect([...perNumber.keys()].sort()).toEqual([...phones].sort());
  expect([...perNumber.values()].every((n) => n === 1)).toBe(true);
}

const peak = (stack: OutdialTestStack, callerId: string) => stack.carrier.stats().perFrom[callerId]?.peak ?? 0;

/** The review's own duplicate check: any lead with more than one job of a run. */
async function duplicateLeads(stack: OutdialTestStack, runId: string) {
  const r = await stack.database.pool.query(
    `SELECT lead_id, COUNT(*) FROM outbound_call_jobs j JOIN calls c ON c.job_id = j.id
      WHERE j.run_id = $1 GROUP BY lead_id HAVING COUNT(*) > 1`,
    [runId],
  );
  return r.rows;
}


describe('BulkCallRun', () => {
  let stack: OutdialTestStack;

  beforeAll(async () => {
    // The fallback timer is far longer than any test here: every refill below is signal-driven.
    stack = await OutdialTestStack.start({
      wakeFallbackSeconds: 3600,
      carrier: { defaultScript: { outcome: 'completed', dialMs: 5, ringMs: 20, talkMs: 60 } },
    });
    await stack.startWorker();
  });

  afterAll(async () => {
    await stack.stop();
  });

  test('one business, 20 leads: every lead called exactly once, peak concurrency 3, the run completes (slots refilled by signals)', async () => {
    const business = await stack.createBusiness();
    const phones = leadPhones(20, '+1415555');
    const run = await stack.createRun(business.id, phones);
    const done = await stack.runResult(run);

    expect(done.status).toBe('completed');
    expect(done.jobs).toMatchObject({ total: 20, completed: 20, queued: 0, dialing: 0, failed: 0 });
    expect(done.outcomes.completed).toBe(20);
    expect(done.business.activeCalls).toBe(0);
    calledOnce(stack, business.callerId, phones);
    expect(peak(stack, business.callerId)).toBe(3);
    expect(await duplicateLeads(stack, run.id)).toEqual([]);

    // Each call's story is in the run's events: dialed, answered, completed, once each.
    const events = await stack.database.pool.query<{ type: string; n: string }>('SELECT type, count(*) AS n FROM events WHERE run_id = $1 GROUP BY type', [run.id]);
    expect(Object.fromEntries(events.rows.map((r) => [r.type, Number(r.n)]))).toMatchObject({ 'call.dialed': 20, 'call.answered': 20, 'call.completed': 20, 'run.running': 1, 'run.completed': 1 });

    // Refilled by signals alone: the fallback timer (an hour) never fired; at most one signal per call
    // (calls ending while the run's wake-up is still unused share it).
    const history = await stack.temporal.client.workflow.getHandle(run.workflowId).fetchHistory();
    const eventTypes = (history.events ?? []).map((e) => String(e.eventType));
    const count = (type: number) => eventTypes.filter((t) => t === String(type)).length;
    expect(count(temporal.api.enums.v1.EventType.EVENT_TYPE_TIMER_FIRED)).toBe(0);
    const signals = count(temporal.api.enums.v1.EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED);
    expect(signals).toBeGreaterThanOrEqual(1);
    expect(signals).toBeLessThanOrEqual(20);
  });

  test('six runs of one business: a freed slot wakes only a run that can use it (no fan-out), none starves, the limit holds', async () => {
    const business = await stack.createBusiness({ maxConcurrentCalls: 3 });
    const phones = leadPhones(24, '+1415571');
    const runs = await Promise.all(Array.from({ length: 6 }, (_, i) => stack.createRun(business.id, phones.slice(i * 4, (i + 1) * 4))));
    // The fallback timer is an hour: every run finishing proves no wake-up was swallowed.
    const done = await Promise.all(runs.map((r) => stack.runResult(r)));
    expect(done.map((d) => d.status)).toEqual(Array(6).fill('completed'));
    calledOnce(stack, business.callerId, phones);
    expect(peak(stack, business.callerId)).toBeLessThanOrEqual(3);
    let signals = 0;
    for (const r of runs) {
      const history = await stack.temporal.client.workflow.getHandle(r.workflowId).fetchHistory();
      signals += (history.events ?? []).filter((e) => e.eventType === temporal.api.enums.v1.EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED).length;
    }
    // About one per freed slot (plus a run's own wake-ups to finish, and hand-overs); every live run
    // was signalled for every freed slot before: up to 6 × 24.
    expect(signals).toBeLessThanOrEqual(2 * phones.length);
  });

  test('callbacks that beat the create response are matched by call ID: none is lost, the run completes', async () => {
    const business = await stack.createBusiness();
    const phones = leadPhones(6, '+1415562');
    // The carrier holds each create response for a second, while the call proceeds and calls back.
    const responseDelayMs = 1_000;
    stack.carrier.setScripts([{ to: '+1415562*', responseDelayMs, talkMs: 10 }]);
    try {
      const run = await stack.createRun(business.id, phones);
      const done = await stack.runResult(run);
      expect(done.status).toBe('completed');
      expect(done.jobs.completed).toBe(6);
      const calls = stack.carrier.calls({ from: business.callerId });
      const sids = new Set(calls.map((c) => c.sid));
      const callbacks = stack.carrier.callbacks().filter((c) => sids.has(c.callSid));
      expect(callbacks.length).toBe(6 * statusCallbackEvents(false).length);
      expect(callbacks.every((c) => c.responseStatus === 204)).toBe(true);
      // Every call's `answered` callback was answered before its create response was even sent.
      for (const call of calls) {
        const answered = callbacks.find((c) => c.callSid === call.sid && c.event === 'answered');
        expect(answered!.finishedAt).toBeLessThan(call.createdAt + responseDelayMs);
      }
    } finally {
      stack.carrier.setScripts([]);
    }
  });

  test('callbacks duplicated and delivered newest first change nothing twice and never move a call backwards', async () => {
    const business = await stack.createBusiness();
    const phones = leadPhones(6, '+1415569');
    stack.carrier.setScripts([{ to: '+1415569*', callbackFaults: [{ kind: 'duplicate' }, { kind: 'reorder' }] }]);
    try {
      const run = await stack.createRun(business.id, phones);
      const done = await stack.runResult(run);
      expect(done.status).toBe('completed');
      expect(done.jobs).toMatchObject({ completed: 6, dialing: 0 });
      expect(done.outcomes.completed).toBe(6);
      // The run may end on the first (newest) callback of the last call; let the older ones land too.
      await stack.carrier.whenIdle();
      const sids = new Set(stack.carrier.calls({ from: business.callerId }).map((c) => c.sid));
      const delivered = stack.carrier.callbacks().filter((c) => sids.has(c.callSid) && c.result === 'response');
      expect(delivered).toHaveLength(6 * statusCallbackEvents(false).length * 2);
      expect(delivered.every((c) => c.responseStatus === 204)).toBe(true);
      const rows = await stack.database.pool.query('SELECT status, last_sequence_number FROM calls WHERE run_id = $1', [run.id]);
      expect(rows.rows.every((r) => r.status === 'completed' && r.last_sequence_number === 3)).toBe(true);
      calledOnce(stack, business.callerId, phones);
    } finally {
      stack.carrier.setScripts([]);
    }
  });

  test('a definite carrier error fails the job with its Twilio code, frees the slot, and the run goes on', async () => {
    const business = await stack.createBusiness();
    const phones = leadPhones(6, '+1415556');
    const blocked = phones[2]!;
    stack.carrier.blockNumbers([blocked]);
    const run = await stack.createRun(business.id, phones);
    const done = await stack.runResult(run);
    expect(done.status).toBe('completed');
    expect(done.jobs).toMatchObject({ total: 6, completed: 5, failed: 1, queued: 0, dialing: 0 });
    const failed = await stack.database.pool.query(
      `SELECT j.error_code, j.last_error, c.status FROM outbound_call_jobs j JOIN leads l ON l.id = j.lead_id JOIN calls c ON c.job_id = j.id
        WHERE j.run_id = $1 AND j.status = 'failed'`,
      [run.id],
    );
    expect(failed.rows).toEqual([{ error_code: 21216, last_error: expect.stringContaining(''), status: 'failed' }]);
    expect(done.business.activeCalls).toBe(0);
  });

  test('a caller ID the carrier refuses pauses the run with the reason instead of failing every lead', async () => {
    // +15005550007 is the sandbox's "From not owned by the account" number (Twilio 21210).
    const business = await stack.createBusiness({ callerId: '+15005550007' });
    const run = await stack.createRun(business.id, leadPhones(5, '+1415564'));
    await pollUntil(async () => (await stack.getRun(run.id)).status === 'paused');
    const view = await stack.getRun(run.id);
    expect(view.lastError).toMatch(/^Paused: the carrier refused the account or caller ID/);
    expect(view.jobs).toMatchObject({ queued: 5, dialing: 0, failed: 0 });
    expect(view.business.activeCalls).toBe(0);
    expect(stack.carrier.calls({ from: business.callerId })).toHaveLength(0);
    const direct = await stack.api<{ error: { code: string; details: { twilioErrorCode: number } } }>('POST', `/v1/businesses/${business.id}/calls`, {
      to: '+14155550170',
    });
    expect(direct.status).toBe(422);
    expect(direct.body.error).toMatchObject({ code: 'carrier_refused_account', details: { twilioErrorCode: 21210 } });
    expect((await stack.api('POST', `/v1/runs/${run.id}/cancel`)).status).toBe(200);
    expect((await stack.runResult(run)).status).toBe('canceled');
  });

  test('cancel while the carrier sheds load (429) ends the run: jobs put back by refused requests are canceled', async () => {
    const business = await stack.createBusiness();
    stack.carrier.injectFaults({ create429: 10_000 });
    try {
      const run = await stack.createRun(business.id, leadPhones(3, '+1415565'));
      await pollUntil(async () => stack.carrier.requests().some((r) => r.status === 429));
      expect((await stack.api('POST', `/v1/runs/${run.id}/cancel`)).status).toBe(200);
      const done = await stack.runResult(run);
      expect(done.status).toBe('canceled');
      expect(done.jobs).toMatchObject({ queued: 0, dialing: 0, canceled: 3 });
      expect(done.business.activeCalls).toBe(0);
      expect(stack.carrier.calls({ from: business.callerId })).toHaveLength(0);
    } finally {
      stack.carrier.reset();
    }
  });

  test('mixed: a run of 50 leads plus direct calls during it never exceeds 3 at the carrier; direct calls over the limit get 429', async () => {
    const business = await stack.createBusiness();
    const phones = leadPhones(50, '+1415557');
    const run = await stack.createRun(business.id, phones);
    const direct = { placed: 0, refused: 0, retryAfter: new Set<string | null>() };
    // Each time the carrier has seen 5 more calls of this business, two direct calls try to get in.
    for (let seen = 5; seen <= 45; seen += 5) {
      await stack.carrier.waitFor(() => stack.carrier.calls({ from: business.callerId }).length >= seen);
      const attempts = await Promise.all(
        [0, 1].map(() => stack.api<{ error?: { code: string } }>('POST', `/v1/businesses/${business.id}/calls`, { to: '+14155559999' })),
      );
      for (const a of attempts) {
        if (a.status === 201) direct.placed += 1;
        else {
          expect(a.status).toBe(429);
          expect(a.body.error?.code).toBe('concurrency_limit');
          direct.refused += 1;
          direct.retryAfter.add(a.headers.get('retry-after'));
        }
      }
    }
    const done = await stack.runResult(run);
    expect(done.status).toBe('completed');
    expect(done.jobs.completed).toBe(50);
    expect(direct.refused).toBeGreaterThan(0);
    expect([...direct.retryAfter]).toEqual(['5']);
    expect(peak(stack, business.callerId)).toBeLessThanOrEqual(3);
    const bulk = stack.carrier.calls({ from: business.callerId }).filter((c) => c.to !== '+14155559999');
    expect(new Set(bulk.map((c) => c.to)).size).toBe(50);
    expect(bulk).toHaveLength(50);
    expect(stack.carrier.calls({ from: business.callerId, to: '+14155559999' })).toHaveLength(direct.placed);
  });

  test('three runs of one business started together, with direct calls arriving, never exceed its limit at the carrier', async () => {
    const business = await stack.createBusiness();
    const lists = [leadPhones(15, '+1415558'), leadPhones(15, '+1415559'), leadPhones(15, '+1415550')];
    const runs = await Promise.all(lists.map((phones) => stack.createRun(business.id, phones)));
    const directResults: number[] = [];
    for (let seen = 4; seen <= 40; seen += 6) {
      await stack.carrier.waitFor(() => stack.carrier.calls({ from: business.callerId }).length >= seen);
      directResults.push((await stack.api('POST', `/v1/businesses/${business.id}/calls`, { to: '+14155559998' })).status);
    }
    const done = await Promise.all(runs.map((r) => stack.runResult(r)));
    expect(done.map((d) => d.status)).toEqual(['completed', 'completed', 'completed']);
    expect(directResults.every((s) => s === 201 || s === 429)).toBe(true);
    expect(peak(stack, business.callerId)).toBeLessThanOrEqual(3);
    for (const [i, phones] of lists.entries()) {
      expect(new Set(stack.carrier.calls({ from: business.callerId }).filter((c) => phones.includes(c.to)).map((c) => c.to)).size).toBe(phones.length);
      expect(await duplicateLeads(stack, runs[i]!.id)).toEqual([]);
    }
    expect(stack.carrier.calls({ from: business.callerId })).toHaveLength(45 + directResults.filter((s) => s === 201).length);
  });

  test('the count is shared: an active call recorded by one process holds a slot for another', async () => {
    const business = await stack.createBusiness();
    // This process holds a direct call of the business open...
    stack.carrier.setScripts([{ to: '+14155559997', outcome: 'hold' }]);
    const held = await stack.api('POST', `/v1/businesses/${business.id}/calls`, { to: '+14155559997' });
    expect(held.status).toBe(201);
    await stack.carrier.waitFor(() => stack.carrier.calls({ from: business.callerId, status: 'in-progress' }).length === 1);
    // ...and a run dialed by a worker in another OS process, on a carrier of its own, gets 2 slots, not 3.
    const other = await OutdialTestStack.start({ wakeFallbackSeconds: 3600, carrier: { defaultScript: { talkMs: 60 } } });
    const worker = await other.startWorkerProcess();
    try {
      const phones = leadPhones(8, '+1415551');
      const run = await other.createRun(business.id, phones);
      const done = await other.runResult(run);
      expect(done.status).toBe('completed');
      calledOnce(other, business.callerId, phones);
      // On failure the diff shows each call's timeline at the carrier and the business's rows.
      const rows = (await stack.database.pool.query('SELECT direction, status, to_number, created_at, ended_at FROM calls WHERE business_id = $1 ORDER BY created_at', [business.id])).rows;
      const timelines = other.carrier.calls({ from: business.callerId }).map((c) => ({ to: c.to, timeline: c.timeline }));
      expect({ peak: peak(other, business.callerId), rows, timelines }).toMatchObject({ peak: 2 });
      expect(stack.carrier.calls({ from: business.callerId })[0]?.status).toBe('in-progress');
    } finally {
      await worker.stop();
      await other.stop();
      stack.carrier.releaseAll();
      stack.carrier.setScripts([]);
    }
  });

  test('a run of a business already at its limit waits (and says so) until a slot frees', async () => {
    const business = await stack.createBusiness();
    stack.carrier.setScripts([{ to: '+1415566*', outcome: 'hold' }]);
    try {
      for (const to of ['+14155660001', '+14155660002', '+14155660003']) {
        expect((await stack.api('POST', `/v1/businesses/${business.id}/calls`, { to })).status).toBe(201);
      }
      const phones = leadPhones(2, '+1415567');
      const run = await stack.createRun(business.id, phones);
      // Its dial session waits for a slot, and says why on its heartbeats (the Web UI's pending activity).
      const waiting = await pollFor(() => stack.latestPass(run.workflowId), (pass) => pass?.heldBy === 'business-limit');
      expect(waiting).toMatchObject({ dialed: 0, active: 3, limit: 3, queued: 2 });
      expect(stack.carrier.calls({ from: business.callerId })).toHaveLength(3);
      stack.carrier.releaseAll();
      const done = await stack.runResult(run);
      expect(done.status).toBe('completed');
      expect(stack.carrier.calls({ from: business.callerId })).toHaveLength(5);
      expect(peak(stack, business.callerId)).toBe(3);
    } finally {
      stack.carrier.setScripts([]);
    }
  });

  test('pause stops new dials and resume continues', async () => {
    const business = await stack.createBusiness();
    const phones = leadPhones(9, '+1415552');
    stack.carrier.setScripts([{ to: '+1415552*', outcome: 'hold' }]);
    const run = await stack.createRun(business.id, phones);
    await stack.carrier.waitFor(() => stack.carrier.calls({ from: business.callerId, status: 'in-progress' }).length === 3);

    const paused = await stack.api<{ run: { status: string } }>('POST', `/v1/runs/${run.id}/pause`);
    expect(paused.status).toBe(200);
    expect(paused.body.run.status).toBe('paused');
    expect((await stack.api('POST', `/v1/runs/${run.id}/pause`)).status).toBe(409);

    // Free all three slots: a paused run cannot use them, so it is not woken, and nothing is dialed.
    const handle = stack.temporal.client.workflow.getHandle(run.workflowId);
    const before = (await handle.query(progressQuery)).wakeSignalsThisExecution;
    const sids = new Set(stack.carrier.calls({ from: business.callerId }).map((c) => c.sid));
    stack.carrier.releaseAll();
    // Each callback is answered only after its wake-up decision: all three answered, all three decided.
    await stack.carrier.waitFor(
      () => stack.carrier.callbacks({ event: 'completed' }).filter((c) => sids.has(c.callSid) && c.responseStatus === 204).length === 3,
    );
    expect((await handle.query(progressQuery)).wakeSignalsThisExecution).toBe(before);
    expect(stack.carrier.calls({ from: business.callerId })).toHaveLength(3);
    expect((await stack.getRun(run.id)).jobs).toMatchObject({ completed: 3, queued: 6, dialing: 0 });

    stack.carrier.setScripts([]);
    const resumed = await stack.api<{ run: { status: string } }>('POST', `/v1/runs/${run.id}/resume`);
    expect(resumed.status).toBe(200);
    expect(resumed.body.run.status).toBe('running');
    const done = await stack.runResult(run);
    expect(done.status).toBe('completed');
    calledOnce(stack, business.callerId, phones);
  });

  test('cancel ends queued jobs as canceled, leaves no job queued, and lets live calls finish', async () => {
    const business = await stack.createBusiness();
    const phones = leadPhones(10, '+1415553');
    stack.carrier.setScripts([{ to: '+1415553*', outcome: 'hold' }]);
    const run = await stack.createRun(business.id, phones);
    await stack.carrier.waitFor(() => stack.carrier.calls({ from: business.callerId, status: 'in-progress' }).length === 3);

    const canceled = await stack.api<{ run: { status: string; jobs: Record<string, number> } }>('POST', `/v1/runs/${run.id}/cancel`);
    expect(canceled.status).toBe(200);
    expect(canceled.body.run.status).toBe('canceling');
    expect(canceled.body.run.jobs).toMatchObject({ queued: 0, canceled: 7, dialing: 3 });

    stack.carrier.releaseAll();
    stack.carrier.setScripts([]);
    const done = await stack.runResult(run);
    expect(done.status).toBe('canceled');
    expect(done.result.status).toBe('canceled');
    expect(done.jobs).toMatchObject({ queued: 0, dialing: 0, completed: 3, canceled: 7 });
    expect(stack.carrier.calls({ from: business.callerId })).toHaveLength(3);
    expect((await stack.api('POST', `/v1/runs/${run.id}/resume`)).status).toBe(409);
  });
});

describe('BulkCallRun on two worker processes', () => {
  let stack: OutdialTestStack;
  let workers: ManagedProcess[] = [];
  beforeAll(async () => {
    stack = await OutdialTestStack.start({ carrier: { defaultScript: { dialMs: 2, ringMs: 5, talkMs: 20 } } });
    workers = await Promise.all([stack.startWorkerProcess(), stack.startWorkerProcess()]);
  });
  afterAll(async () => {
    await Promise.all(workers.map((w) => w.stop()));
    await stack.stop();
  });

  test('one run of 100 leads: no lead has two calls, the carrier saw 100 distinct calls', async () => {
    const business = await stack.createBusiness();
    const phones = leadPhones(100, '+1415560');
    const run = await stack.createRun(business.id, phones);
    const done = await stack.runResult(run);
    expect(done.status).toBe('completed');
    expect(await duplicateLeads(stack, run.id)).toEqual([]);
    const calls = stack.carrier.calls({ from: business.callerId });
    expect(calls).toHaveLength(100);
    expect(new Set(calls.map((c) => c.to)).size).toBe(100);
    expect(peak(stack, business.callerId)).toBe(3);
  });
});

describe('BulkCallRun when the carrier accepts a call but its answer times out', () => {
  let stack: OutdialTestStack;
  beforeAll(async () => {
    stack = await OutdialTestStack.start({ wakeFallbackSeconds: 3600, telephonyTimeoutMs: 400, carrier: { defaultScript: { talkMs: 20 } } });
    await stack.startWorker();
  });
  afterAll(async () => {
    await stack.stop();
  });

  test('the slot stays held, nothing is re-dialed, and the call settles from its callbacks', async () => {
    const business = await stack.createBusiness();
    const phones = leadPhones(4, '+1415563');
    stack.carrier.setScripts([{ to: phones[1]!, responseDelayMs: 1_500, talkMs: 20 }]);
    const run = await stack.createRun(business.id, phones);
    const done = await stack.runResult(run);
    expect(done.status).toBe('completed');
    expect(done.jobs).toMatchObject({ completed: 4, failed: 0 });
    calledOnce(stack, business.callerId, phones);
    const slow = await stack.database.pool.query(
      "SELECT c.status, c.twilio_call_sid, c.last_error FROM calls c WHERE c.run_id = $1 AND c.to_number = $2",
      [run.id, phones[1]],
    );
    expect(slow.rows).toEqual([{ status: 'completed', twilio_call_sid: expect.stringMatching(/^CA/), last_error: expect.stringContaining('dial outcome unknown') }]);
  });
});

describe('BulkCallRun of a run that Postgres no longer calls live', () => {
  let stack: OutdialTestStack;
  beforeAll(async () => {
    stack = await OutdialTestStack.start();
  });
  afterAll(async () => {
    await stack.stop();
  });

  test('a run marked failed before its workflow got going ends without a single call', async () => {
    const business = await stack.createBusiness();
    // No worker yet: the workflow waits in its task queue while the run is given up on in Postgres.
    const run = await stack.createRun(business.id, leadPhones(3, '+1415568'));
    await stack.database.pool.query("UPDATE bulk_call_runs SET status = 'failed', last_error = 'given up' WHERE id = $1", [run.id]);
    await stack.startWorker();
    const failure = await stack.temporal.client.workflow
      .getHandle(run.workflowId)
      .result()
      .then(
        () => null,
        (err: unknown) => err,
      );
    expect(failure).toBeInstanceOf(WorkflowFailedError);
    expect(JSON.stringify((failure as WorkflowFailedError).cause?.cause)).toContain('RunNotLive');
    expect((await stack.getRun(run.id)).status).toBe('failed');
    expect(stack.carrier.calls()).toHaveLength(0);
  });
});

describe('BulkCallRun without a public host', () => {
  let stack: OutdialTestStack;
  beforeAll(async () => {
    stack = await OutdialTestStack.start();
    await stack.startWorker({ env: 'production', publicHost: { platform: {} } });
  });
  afterAll(async () => {
    await stack.stop();
  });

  test('fails at once: run failed with "No public host configured", zero calls at the carrier', async () => {
    const business = await stack.createBusiness();
    const run = await stack.createRun(business.id, leadPhones(5, '+1415554'));
    const handle = stack.temporal.client.workflow.getHandle(run.workflowId);
    const failure = await handle.result().then(
      () => null,
      (err: unknown) => err,
    );
    expect(failure).toBeInstanceOf(WorkflowFailedError);
    expect(JSON.stringify((failure as WorkflowFailedError).cause?.cause)).toContain('NoPublicHost');
    const view = await stack.getRun(run.id);
    expect(view.status).toBe('failed');
    expect(view.lastError).toBe('No public host configured');
    expect(view.jobs).toMatchObject({ queued: 5, dialing: 0 });
    expect(stack.carrier.calls()).toHaveLength(0);
    const describe = await handle.describe();
    expect(describe.status.name).toBe('FAILED');
  });
});

