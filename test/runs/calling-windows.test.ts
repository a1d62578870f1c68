import { activityTypeOf } from '../../src/temporal/history-events';
import { temporal } from '@temporalio/proto';
import { OutdialTestStack, pollFor } from '../helpers/outdial';

/**
 * Calling windows in each lead's own zone, start and stop times, retries by outcome, and the run
 * sleeping on one durable timer until something is dialable: against the real Temporal, Postgres
 * and the sandbox carrier.
 */

const EventType = temporal.api.enums.v1.EventType;

/** The wall-clock time of `at` in `zone`, as HH:MM:SS (what a window's start and end are written in). */
function localTime(at: Date, zone: string): string {
  return new Intl.DateTimeFormat('en-GB', { timeZone: zone, hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' }).format(at);
}

describe('calling time', () => {
  let stack: OutdialTestStack;

  beforeAll(async () => {
    // No fallback timer fires during a test: every wake-up is a signal or a timer the run set itself.
    stack = await OutdialTestStack.start({ wakeFallbackSeconds: 3600, carrier: { defaultScript: { dialMs: 2, ringMs: 10, talkMs: 30 } } });
    await stack.startWorker();
  });
  afterAll(async () => {
    await stack.stop();
  });

  const inWindow = async (at: string, zones: string[], window: object) =>
    (await stack.database.pool.query<{ inside: boolean }>('SELECT outdial_in_window($1::timestamptz, $2::text[], $3::jsonb) AS inside', [at, zones, window])).rows[0]!.inside;
  const nextOpening = async (after: string, zones: string[], window: object) =>
    (await stack.database.pool.query<{ at: Date | null }>("SELECT outdial_next_opening($1::timestamptz, $2::text[], $3::jsonb, interval '10 seconds') AS at", [after, zones, window])).rows[0]!.at?.toISOString() ?? null;

  const federal = { days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'], start: '08:00', end: '21:00', blackoutDates: [] };

  test("the claim's window check across both 2027 US daylight-saving changes, and in a zone without DST", async () => {
    const ny = ['America/New_York'];
    const phoenix = ['America/Phoenix'];
    // 14 March 2027: New York goes from UTC−5 to UTC−4 at 02:00 local. 12:30Z is 07:30 the day before, 08:30 that day.
    expect(await inWindow('2027-03-13T12:30:00Z', ny, federal)).toBe(false);
    expect(await inWindow('2027-03-14T12:30:00Z', ny, federal)).toBe(true);
    // 7 November 2027: back to UTC−5. 12:30Z is 08:30 the day before, 07:30 that day.
    expect(await inWindow('2027-11-06T12:30:00Z', ny, federal)).toBe(true);
    expect(await inWindow('2027-11-07T12:30:00Z', ny, federal)).toBe(false);
    // Phoenix stays at UTC−7 all year: 15:30Z is 08:30 on both sides of both changes.
    for (const day of ['2027-03-13', '2027-03-14', '2027-11-06', '2027-11-07']) {
      expect(await inWindow(`${day}T15:30:00Z`, phoenix, federal)).toBe(true);
      expect(await inWindow(`${day}T14:30:00Z`, phoenix, federal)).toBe(false);
    }
    // The 21:00 end: 00:59Z on 15 March is 20:59 EDT; 01:00Z is 21:00.
    expect(await inWindow('2027-03-15T00:59:00Z', ny, federal)).toBe(true);
    expect(await inWindow('2027-03-15T01:00:00Z', ny, federal)).toBe(false);
    // The next opening follows the change: 08:00 EST is 13:00Z, 08:00 EDT the next day is 12:00Z.
    expect(await nextOpening('2027-03-13T11:00:00Z', ny, federal)).toBe('2027-03-13T13:00:00.000Z');
    expect(await nextOpening('2027-03-14T02:00:00Z', ny, federal)).toBe('2027-03-14T12:00:00.000Z');
    expect(await nextOpening('2027-11-07T02:00:00Z', ny, federal)).toBe('2027-11-07T13:00:00.000Z');
    // Several candidate zones: inside only when inside in every one; it opens when the last one opens.
    expect(await inWindow('2027-03-15T12:30:00Z', [...ny, ...phoenix], federal)).toBe(false);
    expect(await nextOpening('2027-03-15T12:30:00Z', [...ny, ...phoenix], federal)).toBe('2027-03-15T15:00:00.000Z');
    // Weekdays, blackout dates and a window across midnight, all in local dates and times.
    const weekdays = { ...federal, days: ['mon', 'tue', 'wed', 'thu', 'fri'], blackoutDates: ['2027-03-15'] };
    expect(await inWindow('2027-03-13T15:00:00Z', ny, weekdays)).toBe(false); // a Saturday
    expect(await inWindow('2027-03-15T15:00:00Z', ny, weekdays)).toBe(false); // blacked out
    expect(await nextOpening('2027-03-13T15:00:00Z', ny, weekdays)).toBe('2027-03-16T12:00:00.000Z');
    const night = { ...federal, start: '22:00', end: '02:00' };
    expect(await inWindow('2027-03-16T03:30:00Z', ny, night)).toBe(true); // 23:30 EDT
    expect(await inWindow('2027-03-16T05:30:00Z', ny, night)).toBe(true); // 01:30 EDT
    expect(await inWindow('2027-03-16T06:30:00Z', ny, night)).toBe(false); // 02:30 EDT
    expect(await inWindow('2027-03-16T06:30:00Z', ny, { alwaysOpen: true })).toBe(true);
    // Inside now but closing within the claim's 10 s: the next opening is the next day's.
    expect(await nextOpening('2027-03-15T00:59:55Z', ny, federal)).toBe('2027-03-15T12:00:00.000Z');
  });

  test("each lead's zone comes from its number (or its own timeZone); unknown ones get the business's zone", async () => {
    const business = await stack.createBusiness();
    const res = await stack.api<{ run: { id: string } }>('POST', `/v1/businesses/${business.id}/runs`, {
      leads: [{ phone: '+12125550180' }, { phone: '+16025550180' }, { phone: '+919876543210' }, { phone: '+18005550180' }, { phone: '+14155550180', timeZone: 'Pacific/Honolulu' }],
    });
    expect(res.status).toBe(201);
    const rows = await stack.database.pool.query('SELECT phone, time_zones FROM leads l JOIN outbound_call_jobs j ON j.lead_id = l.id WHERE j.run_id = $1 ORDER BY j.position', [res.body.run.id]);
    expect(rows.rows).toEqual([
      { phone: '+12125550180', time_zones: ['America/New_York'] },
      { phone: '+16025550180', time_zones: ['America/Phoenix'] },
      { phone: '+919876543210', time_zones: ['Asia/Calcutta'] },
      // Toll-free: the library's country-wide list is no location; the business's zone applies.
      { phone: '+18005550180', time_zones: null },
      { phone: '+14155550180', time_zones: ['Pacific/Honolulu'] },
    ]);
    const bad = await stack.api('POST', `/v1/businesses/${business.id}/runs`, { leads: [{ phone: '+12125550181', timeZone: 'Mars/Olympus' }] });
    expect(bad.status).toBe(400);
  });

  test('leads in three zones: each first dial only inside its window; the run sleeps on one timer per wait; unreached leads expire at stopAt', async () => {
    const business = await stack.createBusiness();
    const now = new Date();
    const opensAt = new Date(now.getTime() + 4_000);
    // One window in local time: open now in New York, opening in 4 s in Phoenix, closed in Kolkata.
    const window = { start: localTime(opensAt, 'America/Phoenix'), end: localTime(new Date(now.getTime() + 3_600_000), 'America/New_York') };
    const [ny, phoenix, kolkata] = ['+12125550190', '+16025550190', '+919876543219'];
    const stopAt = new Date(now.getTime() + 9_000);
    const created = await stack.api<{ run: { id: string; workflowId: string } }>('POST', `/v1/businesses/${business.id}/runs`, {
      callingWindow: window,
      stopAt: stopAt.toISOString(),
      leads: [{ phone: kolkata }, { phone: phoenix }, { phone: ny }],
    });
    expect(created.status).toBe(201);
    const run = created.body.run;

    // While only Phoenix is ahead, the run says it waits for the window, and until when.
    const waiting = await pollFor(
      () => stack.getRun(run.id),
      (r) => r.waiting !== null && r.jobs.completed === 1,
    );
    expect(waiting.waiting!.reason).toBe('calling-window');
    // Window times are whole seconds: the opening is within a second of the instant they came from.
    expect(Math.abs(Date.parse(waiting.waiting!.until!) - opensAt.getTime())).toBeLessThan(1_000);

    const done = await stack.runResult(run);
    expect(done.status).toBe('completed');
    expect(done.jobs).toMatchObject({ total: 3, completed: 2, expired: 1, queued: 0 });
    const call = (to: string) => stack.carrier.calls({ to });
    expect(call(kolkata)).toHaveLength(0);
    expect(call(ny)).toHaveLength(1);
    expect(call(phoenix)).toHaveLength(1);
    expect(call(ny)[0]!.createdAt).toBeLessThan(opensAt.getTime());
    expect(call(phoenix)[0]!.createdAt).toBeGreaterThanOrEqual(Date.parse(waiting.waiting!.until!));
    expect(Date.parse(done.finishedAt!)).toBeGreaterThanOrEqual(stopAt.getTime());

    // One timer per wait, and a dial pass only for a cause: the start, a wake-up signal, a timer.
    const history = await stack.temporal.client.workflow.getHandle(run.workflowId).fetchHistory();
    const events = history.events ?? [];
    const count = (type: number) => events.filter((e) => e.eventType === type).length;
    const passes = events.filter((e) => activityTypeOf(e) === 'dialAvailableSlots').length;
    const timersFired = count(EventType.EVENT_TYPE_TIMER_FIRED);
    expect(timersFired).toBe(2); // the window opening in Phoenix, the stopAt
    expect(passes).toBe(1 + count(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED) + timersFired);
  });

  test("a business's calling window widened while a run sleeps for the old one's opening: the run is woken and dials now", async () => {
    const business = await stack.createBusiness();
    // Closed today and tomorrow wherever the lead is (blackout dates in its own zone): the opening is days away.
    const day = (offset: number) => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);
    const closed = { days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'], start: '00:00', end: '23:59', blackoutDates: [day(-1), day(0), day(1), day(2)] };
    expect((await stack.api('PATCH', `/v1/businesses/${business.id}`, { callingWindow: closed })).status).toBe(200);
    const phone = '+12125550193';
    const created = await stack.api<{ run: { id: string; workflowId: string } }>('POST', `/v1/businesses/${business.id}/runs`, { leads: [{ phone }] });
    expect(created.status).toBe(201);
    const waiting = await pollFor(
      () => stack.getRun(created.body.run.id),
      (r) => r.waiting !== null,
    );
    expect(waiting.waiting!.reason).toBe('calling-window');
    expect(Date.parse(waiting.waiting!.until!)).toBeGreaterThan(Date.now() + 86_400_000);
    expect(stack.carrier.calls({ to: phone })).toHaveLength(0);

    // No fallback timer fires in this suite: only the change's wake-up can bring the run to dial.
    expect((await stack.api('PATCH', `/v1/businesses/${business.id}`, { callingWindow: { alwaysOpen: true } })).status).toBe(200);
    const done = await stack.runResult(created.body.run);
    expect(done.jobs).toMatchObject({ total: 1, completed: 1 });
    expect(stack.carrier.calls({ to: phone })).toHaveLength(1);
  });

  test('a run with startAt a few seconds ahead makes no call before it', async () => {
    const business = await stack.createBusiness();
    const startAt = new Date(Date.now() + 3_000);
    const created = await stack.api<{ run: { id: string; workflowId: string } }>('POST', `/v1/businesses/${business.id}/runs`, {
      startAt: startAt.toISOString(),
      leads: [{ phone: '+12125550191' }, { phone: '+12125550192' }],
    });
    expect(created.status).toBe(201);
    const waiting = await pollFor(
      () => stack.getRun(created.body.run.id),
      (r) => r.waiting !== null,
    );
    expect(waiting.waiting).toEqual({ reason: 'start-at', until: startAt.toISOString() });
    const done = await stack.runResult(created.body.run);
    expect(done.jobs).toMatchObject({ completed: 2 });
    for (const c of stack.carrier.calls({ from: business.callerId })) expect(c.createdAt).toBeGreaterThanOrEqual(startAt.getTime());
  });

  test("a lead's callAt: the others are dialed first, it not before its time, the run asleep on one timer meanwhile; a bad one is refused naming it", async () => {
    const business = await stack.createBusiness();
    const callAt = new Date(Date.now() + 3_000);
    const [later, now1, now2] = ['+12125550263', '+12125550264', '+12125550265'];
    const created = await stack.api<{ run: { id: string; workflowId: string } }>('POST', `/v1/businesses/${business.id}/runs`, {
      leads: [{ phone: later, callAt: callAt.toISOString() }, { phone: now1 }, { phone: now2 }],
    });
    expect(created.status).toBe(201);
    const waiting = await pollFor(
      () => stack.getRun(created.body.run.id),
      (r) => r.jobs.completed === 2 && r.waiting !== null,
    );
    expect(waiting.waiting).toEqual({ reason: 'call-at', until: callAt.toISOString() });
    const done = await stack.runResult(created.body.run);
    expect(done.jobs).toMatchObject({ completed: 3 });
    const [scheduled] = stack.carrier.calls({ to: later, from: business.callerId });
    expect(scheduled!.createdAt).toBeGreaterThanOrEqual(callAt.getTime());
    for (const to of [now1, now2]) expect(stack.carrier.calls({ to, from: business.callerId })[0]!.createdAt).toBeLessThan(callAt.getTime());

    // From a CSV's call_at column too; a bad one names its line and column, and nothing is written.
    const csv = async (text: string) =>
      fetch(`${stack.apiUrl}/v1/businesses/${business.id}/runs`, { method: 'POST', headers: { authorization: `Bearer ${stack.adminKey}`, 'content-type': 'text/csv' }, body: text });
    const bad = await csv('phone,call_at\n+12125550266,2026-12-01T15:00:00-05:00\n+12125550267,tomorrow at 3\n');
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: { code: 'invalid_leads', details: [{ line: 3, column: 'call_at' }] } });
    const json = await stack.api<{ error: { details: { index: number; field: string }[] } }>('POST', `/v1/businesses/${business.id}/runs`, { leads: [{ phone: '+12125550268', callAt: '15:00' }] });
    expect(json).toMatchObject({ status: 400, body: { error: { details: [{ index: 0, field: 'callAt' }] } } });
    const good = await csv(`phone,call_at\n+12125550269,${new Date(Date.now() + 3_600_000).toISOString()}\n`);
    expect(good.status).toBe(201);
    const runId = ((await good.json()) as { run: { id: string } }).run.id;
    const jobs = await stack.api<{ data: { dueAt: string | null }[] }>('GET', `/v1/runs/${runId}/jobs`);
    expect(Date.parse(jobs.body.data[0]!.dueAt!)).toBeGreaterThan(Date.now() + 3_000_000);
    expect((await stack.api('POST', `/v1/runs/${runId}/cancel`)).status).toBe(200);
  });

  test('window fields are validated: 400 naming the problem, nothing written', async () => {
    const business = await stack.createBusiness();
    for (const body of [
      { callingWindow: { start: '8:00', end: '21:00' } },
      { callingWindow: { start: '08:00', end: '08:00' } },
      { callingWindow: { start: '08:00', end: '21:00', days: ['someday'] } },
      { callingWindow: { alwaysOpen: false } },
      { callingWindow: { start: '08:00', end: '21:00', blackoutDates: ['2027-13-01'] } },
      { stopAt: new Date(Date.now() - 1000).toISOString() },
      { startAt: '2027-01-01T10:00:00Z', stopAt: '2027-01-01T09:00:00Z' },
      { startAt: 'tomorrow' },
      // ISO 8601 has a year 0; Postgres does not (it was a 500).
      { startAt: '0000-01-01T00:00:00Z' },
    ]) {
      const res = await stack.api('POST', `/v1/businesses/${business.id}/runs`, { leads: [{ phone: '+12125550193' }], ...body });
      expect([JSON.stringify(body), res.status]).toEqual([JSON.stringify(body), 400]);
    }
    expect(Number((await stack.database.pool.query('SELECT count(*) FROM bulk_call_runs WHERE business_id = $1', [business.id])).rows[0].count)).toBe(0);
  });

  test('busy twice then answered: dialed 3 times, spaced by at least the delay; always busy: stops at the attempt cap', async () => {
    const business = await stack.createBusiness();
    const [twice, always] = ['+12125550195', '+12125550196'];
    let dialsOfTwice = 0;
    stack.carrier.setScripts([
      { to: always, outcome: 'busy' },
      { to: twice, outcome: 'busy' },
    ]);
    const created = await stack.api<{ run: { id: string; workflowId: string } }>('POST', `/v1/businesses/${business.id}/runs`, {
      retries: { busy: { maxAttempts: 3, delaySeconds: 1, backoff: 1.5 } },
      leads: [{ phone: twice }, { phone: always }],
    });
    expect(created.status).toBe(201);
    // Once `twice` has been dialed twice (its third dial is 1.5 s away), it answers from then on.
    await stack.carrier.waitFor(() => (dialsOfTwice = stack.carrier.calls({ to: twice }).length) >= 2);
    stack.carrier.setScripts([{ to: always, outcome: 'busy' }]);
    const done = await stack.runResult(created.body.run);
    expect(done.status).toBe('completed');

    const dials = (to: string) => stack.carrier.calls({ to }).sort((a, b) => a.createdAt - b.createdAt);
    expect(dialsOfTwice).toBe(2);
    expect(dials(twice).map((c) => c.status)).toEqual(['busy', 'busy', 'completed']);
    expect(dials(always).map((c) => c.status)).toEqual(['busy', 'busy', 'busy']);
    // Each retry waited its delay after the previous attempt ended: 1 s, then 1.5 s.
    for (const calls of [dials(twice), dials(always)]) {
      expect(calls[1]!.createdAt - calls[0]!.endTime!).toBeGreaterThanOrEqual(1_000);
      expect(calls[2]!.createdAt - calls[1]!.endTime!).toBeGreaterThanOrEqual(1_500);
    }
    // The API shows each lead by its last attempt, and the attempts made.
    expect(done.jobs).toMatchObject({ total: 2, completed: 2 });
    expect(done.outcomes).toMatchObject({ completed: 1, busy: 1 });
    expect(done.attempts).toBe(6);
    const attempts = await stack.database.pool.query(
      `SELECT l.phone, array_agg(j.outcome ORDER BY j.attempt) AS outcomes FROM outbound_call_jobs j JOIN leads l ON l.id = j.lead_id
        WHERE j.run_id = $1 GROUP BY l.phone ORDER BY l.phone`,
      [created.body.run.id],
    );
    expect(attempts.rows).toEqual([
      { phone: twice, outcomes: ['busy', 'busy', 'completed'] },
      { phone: always, outcomes: ['busy', 'busy', 'busy'] },
    ]);
    stack.carrier.setScripts([]);
  });
});
