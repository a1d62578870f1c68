import { listen } from '../../src/db/listen';
import { eventsAfter, EVENTS_CHANNEL, watchRuns, type EventRow } from '../../src/db/queries/events';
import { leadPhones, OutdialTestStack, pollFor } from '../helpers/outdial';

/**
 * The event log: written by triggers in the transaction of the change, read in commit-safe order,
 * announced on one channel. On the real Postgres and a real run.
 */
describe('event log', () => {
  let stack: OutdialTestStack;

  beforeAll(async () => {
    stack = await OutdialTestStack.start({ carrier: { defaultScript: { dialMs: 2, ringMs: 5, talkMs: 10 } } });
    await stack.startWorker();
  });

  afterAll(async () => {
    await stack?.stop();
  });

  async function allEvents(runId: string): Promise<EventRow[]> {
    const out: EventRow[] = [];
    let cursor: string | null = null;
    for (;;) {
      const page = await eventsAfter(stack.database.pool, { runId }, cursor, 3);
      out.push(...page.events);
      // Empty but `more`: events of a transaction still open elsewhere in the cluster are held back; read on until they are in.
      if (page.events.length === 0 && !page.more) return out;
      if (page.events.length > 0) cursor = page.events.at(-1)!.cursor;
    }
  }

  test("a run's every call has dialed, answered, completed in order, and the run its status changes", async () => {
    const business = await stack.createBusiness();
    const run = await stack.createRun(business.id, leadPhones(4));
    await stack.runResult(run);
    const events = await allEvents(run.id);
    expect(events.map((e) => e.type).filter((t) => t.startsWith('run.'))).toEqual(['run.running', 'run.completed']);
    const byCall = new Map<string, string[]>();
    for (const e of events.filter((e) => e.callId)) byCall.set(e.callId!, [...(byCall.get(e.callId!) ?? []), e.type]);
    expect(byCall.size).toBe(4);
    for (const types of byCall.values()) expect(types).toEqual(['call.dialed', 'call.answered', 'call.completed']);
    const completed = events.filter((e) => e.type === 'call.completed');
    expect(completed.map((e) => e.data.outcome)).toEqual(['completed', 'completed', 'completed', 'completed']);
    expect(new Set(completed.map((e) => e.data.leadId)).size).toBe(4);
    expect(completed.every((e) => e.data.attempt === 1 && typeof e.data.durationSeconds === 'number')).toBe(true);
    expect(events.at(-1)!.type).toBe('run.completed');
    // Ids are unique and each cursor is past the one before.
    expect(new Set(events.map((e) => e.id)).size).toBe(events.length);
  });

  test("an event is announced only while its run is watched: an unwatched run's commits take no NOTIFY", async () => {
    const notified: { runId?: string; marker?: string }[] = [];
    let markers = 0;
    const heard = new Map<string, () => void>();
    const listener = listen(
      stack.databaseUrl,
      EVENTS_CHANNEL,
      {
        onNotify: (p) => {
          const payload = JSON.parse(p) as { runId?: string; marker?: string };
          notified.push(payload);
          if (payload.marker) heard.get(payload.marker)?.();
        },
        onReconnect: () => undefined,
      },
      stack.logger,
    );
    // Notifications arrive in commit order: once a marker sent after the event is heard, so was the event, if any.
    const announcedAfter = async (record: () => Promise<unknown>, runId: string) => {
      await record();
      const marker = `m${(markers += 1)}`;
      const arrived = new Promise<void>((resolve) => heard.set(marker, resolve));
      await stack.database.pool.query('SELECT pg_notify($1, $2)', [EVENTS_CHANNEL, JSON.stringify({ marker })]);
      await arrived;
      const seen = notified.filter((p) => p.runId === runId).length;
      notified.length = 0;
      return seen;
    };
    try {
      await listener.ready;
      const business = await stack.createBusiness();
      const run = await stack.createRun(business.id, leadPhones(1, '+1415667'));
      await stack.runResult(run);
      const record = () => stack.database.pool.query(`SELECT outdial_record_event($1, $2, NULL, 'run.failed', '{}'::jsonb)`, [business.id, run.id]);
      expect(await announcedAfter(record, run.id)).toBe(0);
      await watchRuns(stack.database.pool, [run.id], 30);
      expect(await announcedAfter(record, run.id)).toBe(1);
      // A shorter watch from another process does not cut a longer one short.
      await watchRuns(stack.database.pool, [run.id], 0);
      expect(await announcedAfter(record, run.id)).toBe(1);
      await stack.database.pool.query("UPDATE event_watches SET until = now() - interval '1 second' WHERE run_id = $1", [run.id]);
      expect(await announcedAfter(record, run.id)).toBe(0);
    } finally {
      await listener.close();
    }
  });

  test('an event whose transaction took a lower id but commits later is not skipped: readers wait for it', async () => {
    const business = await stack.createBusiness();
    const run = await stack.createRun(business.id, leadPhones(1, '+1415666'));
    await stack.runResult(run);
    const before = await allEvents(run.id);
    const cursor = before.at(-1)!.cursor;
    const early = await stack.database.pool.connect();
    const late = await stack.database.pool.connect();
    try {
      // `early` writes first (lower id) but commits last.
      await early.query('BEGIN');
      await early.query("UPDATE bulk_call_runs SET status = 'paused' WHERE id = $1", [run.id]);
      await late.query('BEGIN');
      await late.query(
        `SELECT outdial_record_event($1, $2, NULL, 'run.failed', '{}'::jsonb)`,
        [business.id, run.id],
      );
      await late.query('COMMIT');
      const heldBack = await eventsAfter(stack.database.pool, { runId: run.id }, cursor);
      expect(heldBack.events).toEqual([]);
      expect(heldBack.more).toBe(true);
      await early.query('COMMIT');
      // The horizon is the cluster's: a transaction of another suite running now holds events back too, as readers expect.
      const after = await pollFor(() => eventsAfter(stack.database.pool, { runId: run.id }, cursor), (page) => !page.more);
      expect(after.events.map((e) => e.type)).toEqual(['run.paused', 'run.failed']);
      expect(after.more).toBe(false);
      const again = await eventsAfter(stack.database.pool, { runId: run.id }, after.events.at(-1)!.cursor);
      expect(again.events).toEqual([]);
    } finally {
      early.release();
      late.release();
    }
  });
});
