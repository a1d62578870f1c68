import type { Executor } from './executor';

/** The types written by the triggers of drizzle/0009_events.sql. */
export const CALL_EVENT_TYPES = ['call.dialed', 'call.answered', 'call.completed'] as const;
export const RUN_EVENT_TYPES = ['run.running', 'run.paused', 'run.canceling', 'run.completed', 'run.canceled', 'run.failed', 'run.pending'] as const;
/** Written by the domain, not a trigger: leads added to a run (src/domain/runs/add-leads.ts). Not `run.`: those are its statuses. */
export const LEAD_EVENT_TYPES = ['leads.added'] as const;
export type EventType = (typeof CALL_EVENT_TYPES)[number] | (typeof RUN_EVENT_TYPES)[number] | (typeof LEAD_EVENT_TYPES)[number];

/** Records a run's event in the caller's transaction, as the triggers do (the log, its webhook delivery, the watch's notification). */
export async function recordRunEvent(db: Executor, event: { businessId: string; runId: string; type: (typeof LEAD_EVENT_TYPES)[number]; data: Record<string, unknown> }): Promise<void> {
  await db.query('SELECT outdial_record_event($1, $2, NULL, $3, $4::jsonb)', [event.businessId, event.runId, event.type, JSON.stringify(event.data)]);
}

/** The channel an event's transaction notifies, with `{ businessId, runId }`, when its run is watched (`watchRuns`). */
export const EVENTS_CHANNEL = 'outdial_events';

/**
 * Announce these runs' events on EVENTS_CHANNEL for the next `seconds` (a watch only ever grows: another
 * process may follow the same run for longer). Expired watches are dropped by the same statement.
 */
export async function watchRuns(db: Executor, runIds: readonly string[], seconds: number): Promise<void> {
  if (runIds.length === 0) return;
  await db.query(
    `WITH expired AS (DELETE FROM event_watches WHERE until < now() - interval '1 minute' AND run_id <> ALL($1::uuid[]))
     -- In id order, whatever order the caller's runs are in: two processes renewing the same runs lock them alike.
     INSERT INTO event_watches (run_id, until) SELECT id, now() + make_interval(secs => $2) FROM unnest($1::uuid[]) AS id ORDER BY id
     ON CONFLICT (run_id) DO UPDATE SET until = greatest(event_watches.until, EXCLUDED.until)`,
    [runIds, seconds],
  );
}

export interface EventRow {
  /** Stable and unique: the id a webhook or a stream names the event by. */
  id: string;
  /** Where the event sits in commit order: resume after it with `eventsAfter`. */
  cursor: string;
  businessId: string;
  runId: string | null;
  callId: string | null;
  type: EventType;
  data: Record<string, unknown>;
  createdAt: Date;
}

/**
 * A position in the event log. Ids are taken when a row is inserted, but rows become visible when
 * their transaction commits, so reading "id > last" can skip a row whose transaction took a lower id
 * and committed later. Events are therefore read in (transaction id, id) order and only from
 * transactions older than every one still running (the snapshot's xmin): nothing can later appear
 * before a cursor that has been handed out.
 */
const START = { tx: '0', id: '0' };

export function parseEventCursor(text: string): { tx: string; id: string } | null {
  const m = /^(\d{1,20})\.(\d{1,19})$/.exec(text);
  return m ? { tx: m[1]!, id: m[2]! } : null;
}

/** Orders two cursors as the log does (null: before every event); both must be valid cursors. */
export function compareEventCursors(a: string | null, b: string | null): number {
  const key = (c: string | null) => {
    const at = (c && parseEventCursor(c)) || START;
    return [BigInt(at.tx), BigInt(at.id)] as const;
  };
  const [x, y] = [key(a), key(b)];
  return x[0] !== y[0] ? (x[0] < y[0] ? -1 : 1) : x[1] === y[1] ? 0 : x[1] < y[1] ? -1 : 1;
}

interface Row {
  id: string;
  tx: string;
  business_id: string;
  run_id: string | null;
  call_id: string | null;
  type: EventType;
  data: Record<string, unknown>;
  created_at: Date;
  held_back: boolean;
}

function eventOf(r: Row): EventRow {
  return { id: r.id, cursor: `${r.tx}.${r.id}`, businessId: r.business_id, runId: r.run_id, callId: r.call_id, type: r.type, data: r.data, createdAt: r.created_at };
}

export interface EventPage {
  events: EventRow[];
  /**
   * Committed events exist past the page that an older, still-running transaction holds back (or
   * the page was full): read again soon, or a notification may have been the last word about them.
   */
  more: boolean;
}

/** The events of `scope` after `cursor` (null: from the start), in commit-safe order. */
export async function eventsAfter(
  db: Executor,
  scope: { runId: string } | { businessId: string },
  cursor: string | null,
  limit = 500,
): Promise<EventPage> {
  const at = (cursor && parseEventCursor(cursor)) || START;
  const [column, value] = 'runId' in scope ? ['run_id', scope.runId] : ['business_id', scope.businessId];
  const r = await db.query<Row>(
    `WITH horizon AS (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS xmin),
          page AS (
            SELECT e.* FROM events e, horizon h
             WHERE e.${column} = $1 AND (e.tx, e.id) > ($2::xid8, $3::bigint) AND e.tx < h.xmin
             ORDER BY e.tx, e.id
             LIMIT $4
          )
     SELECT p.id::text AS id, p.tx::text AS tx, p.business_id, p.run_id, p.call_id, p.type, p.data, p.created_at, x.held_back
       FROM (SELECT EXISTS (
               SELECT 1 FROM events e, horizon h WHERE e.${column} = $1 AND e.tx >= h.xmin AND (e.tx, e.id) > ($2::xid8, $3::bigint)
             ) AS held_back) x
       LEFT JOIN page p ON true
      ORDER BY p.tx, p.id`,
    [value, at.tx, at.id, limit],
  );
  const rows = r.rows.filter((row) => row.id !== null);
  const heldBack = r.rows[0]?.held_back ?? false;
  return { events: rows.map(eventOf), more: heldBack || rows.length === limit };
}
