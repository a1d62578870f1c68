import { eventsAfter, type EventRow } from '../../src/db/queries/events';
import { leadPhones, OutdialTestStack, pollUntil, type RunView } from '../helpers/outdial';
import { SseClient, type SseFrame } from '../helpers/sse';

/**
 * GET /v1/runs/:runId/events against a real stack: the triggers' events reach every client through
 * the API's one listener, resumable, in the order of the event log, exactly once.
 */
describe('run event stream', () => {
  let stack: OutdialTestStack;

  beforeAll(async () => {
    stack = await OutdialTestStack.start({
      carrier: { defaultScript: { dialMs: 2, ringMs: 5, talkMs: 10 } },
      liveEvents: { heartbeatSeconds: 0.3, progressIntervalMs: 100 },
    });
    await stack.startWorker();
  });

  afterAll(async () => {
    await stack?.stop();
  });

  afterEach(() => stack.carrier.setScripts([]));

  const open = async (runId: string, headers: Record<string, string> = {}, key = stack.adminKey) => {
    const client = await SseClient.open(`${stack.apiUrl}/v1/runs/${runId}/events`, { authorization: `Bearer ${key}`, ...headers });
    if (!(client instanceof SseClient)) throw new Error(`stream refused: ${client.status} ${JSON.stringify(client.body)}`);
    return client;
  };

  /** The run's events in the log after `cursor`, as a reader after the run sees them. */
  async function logAfter(runId: string, cursor: string | null): Promise<EventRow[]> {
    const out: EventRow[] = [];
    for (;;) {
      const page = await eventsAfter(stack.database.pool, { runId }, cursor, 100);
      if (page.events.length === 0 && !page.more) return out;
      out.push(...page.events);
      cursor = page.events.at(-1)?.cursor ?? cursor;
    }
  }

  const logged = (frames: SseFrame[]) => frames.filter((f) => f.id !== null).map((f) => ({ id: f.id, event: f.event, data: JSON.parse(f.data) as Record<string, unknown> }));
  const progressOf = (client: SseClient) => client.events('progress').map((f) => JSON.parse(f.data) as RunView);
  const answered = (n: number) => (c: SseClient) => c.events('call.answered').length >= n;

  test('clients resuming mid-run get every event after their Last-Event-ID once, in log order, the same for two at once; progress moves; the stream ends', async () => {
    const business = await stack.createBusiness({ maxConcurrentCalls: 3 });
    const phones = leadPhones(9, '+1415777');
    stack.carrier.setScripts([{ to: '+1415777*', outcome: 'hold' }]);
    const run = await stack.createRun(business.id, phones);

    // A first connection sees the first wave answered (and held at the carrier), then goes away.
    const first = await open(run.id);
    await first.until(answered(3));
    const resumeFrom = first.frames.filter((f) => f.id !== null).at(-1)!.id!;
    await first.close();
    await pollUntil(async () => stack.runEvents.stats().followers === 0);

    // While nobody follows the run: the first wave ends, the second is dialed and held.
    stack.carrier.releaseAll();
    await pollUntil(async () => (await logAfter(run.id, resumeFrom)).filter((e) => e.type === 'call.answered').length === 3);

    // One client resumes (the hub reads from its position), then a second from the same position
    // once the hub is past it (so it catches up with reads of its own before joining).
    const a = await open(run.id, { 'last-event-id': resumeFrom });
    await a.until(answered(3));
    const c = await SseClient.open(`${stack.apiUrl}/v1/runs/${run.id}/events?lastEventId=${encodeURIComponent(resumeFrom)}`, { authorization: `Bearer ${stack.adminKey}` });
    if (!(c instanceof SseClient)) throw new Error(`stream refused: ${c.status}`);
    await c.until(answered(3));
    expect(stack.runEvents.stats()).toEqual({ runs: 1, followers: 2 });

    // The rest of the run completes without holding.
    stack.carrier.setScripts([]);
    stack.carrier.releaseAll();
    await Promise.all([a.closed, c.closed]);
    const final = await stack.getRun(run.id);
    expect(final.status).toBe('completed');

    const expected = (await logAfter(run.id, resumeFrom)).map((e) => ({ id: e.cursor, event: e.type }));
    // Wave one's completions, waves two and three, and the run's end: 3 + 6 × 3 + 1.
    expect(expected).toHaveLength(22);
    expect(logged(a.frames).map(({ id, event }) => ({ id, event }))).toEqual(expected);
    expect(logged(c.frames)).toEqual(logged(a.frames));
    for (const client of [a, c]) {
      expect(client.frames.at(-1)!.event).toBe('end');
      expect(logged(client.frames).at(-1)!.event).toBe('run.completed');
      const progress = progressOf(client);
      const completed = progress.map((p) => p.jobs.completed!);
      expect(completed).toEqual([...completed].sort((x, y) => x - y));
      expect(completed[0]).toBeLessThan(9);
      expect(progress.at(-1)).toMatchObject({ status: 'completed', jobs: { completed: 9, total: 9 } });
    }

    // A call event carries the contract's fields.
    const done = logged(a.frames).find((f) => f.event === 'call.completed')!.data;
    expect(Object.keys(done).sort()).toEqual(['answeredBy', 'at', 'attempt', 'callId', 'durationSeconds', 'id', 'jobId', 'leadId', 'outcome', 'runId', 'status', 'to', 'type'].sort());
    expect(done).toMatchObject({ type: 'call.completed', runId: run.id, status: 'completed', outcome: 'completed', attempt: 1 });
    expect(phones).toContain(done.to);
    expect(typeof done.durationSeconds).toBe('number');
    expect(logged(a.frames).at(-1)!.data).toMatchObject({ type: 'run.completed', runId: run.id, status: 'completed' });
    await pollUntil(async () => stack.runEvents.stats().runs === 0);

    // Already final at connect: the replay after Last-Event-ID, the run's view, the end.
    const late = await open(run.id);
    await late.closed;
    const all = (await logAfter(run.id, null)).map((e) => ({ id: e.cursor, event: e.type }));
    expect(logged(late.frames).map(({ id, event }) => ({ id, event }))).toEqual(all);
    expect(late.frames.slice(-2).map((f) => f.event)).toEqual(['progress', 'end']);
    expect(progressOf(late)[0]).toMatchObject({ status: 'completed', jobs: { completed: 9 } });
    const afterEnd = await open(run.id, { 'last-event-id': all.at(-1)!.id });
    await afterEnd.closed;
    expect(afterEnd.frames.map((f) => f.event)).toEqual(['progress', 'end']);
  });

  test("clients following a live run from its start get its whole backlog (more than a page) once, in order", async () => {
    const business = await stack.createBusiness({ maxConcurrentCalls: 10 });
    const phones = leadPhones(200, '+1415783');
    // Every call but the last lead's ends at once: the run stays live with ~600 events behind it.
    stack.carrier.setScripts([{ to: phones.at(-1)!, outcome: 'hold' }]);
    const run = await stack.createRun(business.id, phones);
    await pollUntil(async () => (await stack.getRun(run.id)).jobs.completed === 199, 120_000);
    const backlog = await logAfter(run.id, null);
    expect(backlog.length).toBeGreaterThan(500);

    // The first client's feed reads the backlog page by page; the second catches up by itself.
    const first = await open(run.id);
    await first.until((c) => c.events('call.').length >= backlog.length - 1);
    const second = await open(run.id);
    await second.until((c) => c.events('call.').length >= backlog.length - 1);
    stack.carrier.releaseAll();
    await Promise.all([first.closed, second.closed]);
    const all = (await logAfter(run.id, null)).map((e) => ({ id: e.cursor, event: e.type }));
    expect(logged(first.frames).map(({ id, event }) => ({ id, event }))).toEqual(all);
    expect(logged(second.frames)).toEqual(logged(first.frames));
    expect(first.frames.at(-1)!.event).toBe('end');
  });

  test('an idle stream gets heartbeat comments; a client that leaves is forgotten', async () => {
    const business = await stack.createBusiness({ maxConcurrentCalls: 1 });
    stack.carrier.setScripts([{ to: '+1415778*', outcome: 'hold' }]);
    const run = await stack.createRun(business.id, leadPhones(1, '+1415778'));
    const client = await open(run.id);
    await client.until(answered(1));
    await client.until((c) => c.comments.filter((t) => t === 'ping').length >= 2);
    expect(client.events('progress').length).toBeGreaterThanOrEqual(1);
    expect(stack.runEvents.stats()).toEqual({ runs: 1, followers: 1 });
    await client.close();
    await pollUntil(async () => stack.runEvents.stats().runs === 0);
    stack.carrier.releaseAll();
    await stack.runResult(run);
  });

  test('after its LISTEN connection is cut, the hub reconnects and re-reads every followed run (notifications sent meanwhile are lost)', async () => {
    const business = await stack.createBusiness({ maxConcurrentCalls: 1 });
    stack.carrier.setScripts([{ to: '+1415782*', outcome: 'hold' }]);
    const run = await stack.createRun(business.id, leadPhones(1, '+1415782'));
    const client = await open(run.id);
    await client.until(answered(1));
    const listenerPid = async () =>
      (await stack.database.pool.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE application_name = $1', [stack.runEventsListenerName])).rows[0]?.pid;
    const before = await listenerPid();
    expect(before).toBeDefined();
    // An event no notification announces: only a read the hub makes of its own finds it.
    const silent = await stack.database.pool.query<{ id: string }>(
      `INSERT INTO events (business_id, run_id, type, data) VALUES ($1, $2, 'run.running', '{"status": "running"}'::jsonb) RETURNING id::text AS id`,
      [business.id, run.id],
    );
    await stack.database.pool.query('SELECT pg_terminate_backend($1)', [before]);
    await client.until((c) => c.events('run.running').some((f) => (JSON.parse(f.data) as { id: string }).id === silent.rows[0]!.id));
    // A new LISTEN connection takes the old one's place (the re-read may come first: wait for it).
    await pollUntil(async () => {
      const after = await listenerPid();
      return after !== undefined && after !== before;
    });
    // Notifications reach the new connection: the run's end comes through.
    stack.carrier.releaseAll();
    await client.closed;
    expect(client.frames.at(-1)!.event).toBe('end');
    expect(logged(client.frames).at(-1)!.event).toBe('run.completed');
  });

  test("a business key cannot read another business's run (404); a bad Last-Event-ID or query is a 400; no key is a 401", async () => {
    const owner = await stack.createBusiness();
    const other = await stack.createBusiness();
    const otherKey = (await stack.api<{ apiKey: { secret: string } }>('POST', `/v1/businesses/${other.id}/api-keys`, { name: 'other' })).body.apiKey.secret;
    const ownerKey = (await stack.api<{ apiKey: { secret: string } }>('POST', `/v1/businesses/${owner.id}/api-keys`, { name: 'owner' })).body.apiKey.secret;
    const run = await stack.createRun(owner.id, leadPhones(1, '+1415779'));
    await stack.runResult(run);
    const url = `${stack.apiUrl}/v1/runs/${run.id}/events`;

    const refused = await SseClient.open(url, { authorization: `Bearer ${otherKey}` });
    expect(refused).toMatchObject({ status: 404, body: { error: { code: 'not_found', message: `run ${run.id} does not exist` } } });
    const own = await open(run.id, {}, ownerKey);
    await own.closed;
    expect(own.frames.at(-1)!.event).toBe('end');

    for (const [path, headers] of [
      [url, { 'last-event-id': 'not-a-cursor' }],
      [`${url}?lastEventId=12`, {}],
    ] as const) {
      const bad = await SseClient.open(path, { authorization: `Bearer ${stack.adminKey}`, ...headers });
      expect(bad).toMatchObject({ status: 400, contentType: expect.stringContaining('application/json'), body: { error: { code: 'invalid_last_event_id' } } });
    }
    expect(await SseClient.open(`${url}?since=now`, { authorization: `Bearer ${stack.adminKey}` })).toMatchObject({
      status: 400,
      body: { error: { code: 'invalid_request' } },
    });
    expect(await SseClient.open(url, {})).toMatchObject({ status: 401, body: { error: { code: 'unauthorized' } } });
    expect(await SseClient.open(`${stack.apiUrl}/v1/runs/00000000-0000-4000-8000-000000000000/events`, { authorization: `Bearer ${stack.adminKey}` })).toMatchObject({
      status: 404,
    });
  });
});
