import type { Database } from '../db/client';
import { listen, type Listener } from '../db/listen';
import { compareEventCursors, eventsAfter, EVENTS_CHANNEL, watchRuns, type EventRow } from '../db/queries/events';
import { isFinalRunStatus } from '../db/statuses';
import { getRun, type RunView } from '../domain/runs/run-view';
import type { Logger } from '../logger';

/**
 * Live events of runs for the API's streams. One LISTEN connection per process; per run with
 * followers, one read of the event log per notification, from the hub's own cursor, fanned out to
 * every follower of the run; one run view per batch (throttled), shared by them. A follower that
 * resumes from an older position first catches up with reads of its own, then joins the shared flow.
 * Postgres announces only the events of watched runs (`event_watches`): the hub watches each run it
 * follows, renews the watches, and reads every followed run at each renewal as a backstop.
 */

export type RunStreamMessage = { kind: 'events'; events: EventRow[] } | { kind: 'progress'; run: RunView } | { kind: 'ping' };

/** Where a follower's messages go (an SSE response): the hub knows nothing of HTTP. */
export interface RunStreamSink {
  send(message: RunStreamMessage): void;
  /** Resolves once what was sent has been handed to the network, or the client is gone. */
  drained(): Promise<void>;
  /** Bytes sent but not yet written out. */
  pendingBytes(): number;
  /** The run is final and everything was sent: says so, and closes. */
  end(): void;
  /** Closes without the end (a client cut off, the API stopping): the client resumes from its last event id. */
  close(): void;
  /** The client went away, or the stream was ended. */
  gone(): boolean;
}

export interface RunEventsHubOptions {
  database: Database;
  databaseUrl: string;
  logger: Logger;
  /** A comment frame this often keeps proxies from closing an idle stream. */
  heartbeatSeconds: number;
  /** At most one run view per run this often while its events flow. */
  progressIntervalMs: number;
}

export interface RunEventsHub {
  /** The LISTEN is in place. */
  ready: Promise<void>;
  /** Streams a live run's events after `cursor` (null: from its first) until its final status; returns the unsubscribe. */
  follow(runId: string, cursor: string | null, sink: RunStreamSink): () => void;
  /** The events of a run that is already final, after `cursor`, up to its final status. */
  replay(runId: string, cursor: string | null, sink: RunStreamSink): Promise<void>;
  /** Runs followed now and their followers (streams in catch-up or in the shared flow). */
  stats(): { runs: number; followers: number };
  /** Ends every stream and closes the LISTEN connection. */
  stop(): Promise<void>;
}

const PAGE_SIZE = 500;
/** How soon to read again when an older, still-running transaction holds committed events back. */
const HELD_BACK_RETRY_MS = 100;
/** After a failed read (Postgres away), before the next try; a reconnect also re-reads. */
const FAILED_READ_RETRY_MS = 1_000;
/** A client this far behind (bytes not yet written to it) is cut off; it resumes with its last event id. */
const MAX_PENDING_BYTES = 4 * 1024 * 1024;
/** A followed run's watch lasts this long; renewed (and every followed run read) every WATCH_RENEW_MS. */
const WATCH_SECONDS = 30;
const WATCH_RENEW_MS = 10_000;
/** A run just followed is read once more this soon: an event written before its watch was visible may commit after the first read. */
const FIRST_BACKSTOP_MS = 1_000;

const isFinalEvent = (e: EventRow) => e.type.startsWith('run.') && isFinalRunStatus(e.type.slice('run.'.length));
const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Follower {
  sink: RunStreamSink;
  /** The cursor of the last event this follower was sent. */
  sent: string | null;
  /** Shared events held while the follower catches up (null once it is in the shared flow). */
  buffer: EventRow[] | null;
  caughtUp: Promise<void>;
}

export function startRunEventsHub(opts: RunEventsHubOptions): RunEventsHub {
  const { database, logger } = opts;
  const feeds = new Map<string, RunFeed>();
  const inFlight = new Set<Promise<unknown>>();
  let stopped = false;

  /** Every read and view is tracked, so stop() returns only once none can touch the pool. */
  const track = <T>(p: Promise<T>): Promise<T> => {
    inFlight.add(p);
    void p.finally(() => inFlight.delete(p)).catch(() => undefined);
    return p;
  };

  const listener: Listener = listen(
    opts.databaseUrl,
    EVENTS_CHANNEL,
    {
      onNotify(payload) {
        let runId: unknown;
        try {
          runId = (JSON.parse(payload) as { runId?: unknown }).runId;
        } catch {
          return;
        }
        if (typeof runId === 'string') feeds.get(runId)?.pump();
      },
      // Notifications sent while the connection was down are lost (and Postgres may have restarted,
      // emptying the unlogged watches): watch and read every followed run again.
      onReconnect() {
        void watch([...feeds.keys()]);
        for (const feed of feeds.values()) feed.pump();
      },
    },
    logger,
  );

  /**
   * Sends the run's events after `from`, a page at a time (waiting for each to drain), until
   * `enough` holds or the log has nothing more; returns the cursor of the last event sent.
   */
  async function sendPages(runId: string, from: string | null, sink: RunStreamSink, enough: (sent: string | null, page: EventRow[]) => boolean) {
    let sent = from;
    while (!sink.gone() && !stopped) {
      const page = await track(eventsAfter(database.pool, { runId }, sent, PAGE_SIZE));
      if (page.events.length > 0) {
        sent = page.events.at(-1)!.cursor;
        sink.send({ kind: 'events', events: page.events });
        if (enough(sent, page.events)) break;
        await sink.drained();
      } else if (page.more) await delay(HELD_BACK_RETRY_MS);
      else break;
    }
    return sent;
  }

  const leave = (feed: RunFeed, f: Follower) => {
    feed.followers.delete(f);
    if (feed.followers.size === 0) feed.close();
  };
  const drop = (feed: RunFeed, f: Follower) => {
    leave(feed, f);
    f.sink.close();
  };

  /** A follower in the shared flow gets what it has not had yet; one that fell too far behind is cut off. */
  const deliver = (feed: RunFeed, f: Follower, events: EventRow[]) => {
    if (f.sink.gone()) return;
    if (f.buffer) return void f.buffer.push(...events);
    const fresh = events.filter((e) => compareEventCursors(e.cursor, f.sent) > 0);
    if (fresh.length === 0) return;
    f.sent = fresh.at(-1)!.cursor;
    f.sink.send({ kind: 'events', events: fresh });
    if (f.sink.pendingBytes() > MAX_PENDING_BYTES) {
      logger.warn({ runId: feed.runId }, 'run events: a client fell too far behind; closing its stream (it resumes from its last event id)');
      drop(feed, f);
    }
  };

  class RunFeed {
    readonly followers = new Set<Follower>();
    private reading = false;
    private again = false;
    private retry: NodeJS.Timeout | null = null;
    private progressTimer: NodeJS.Timeout | null = null;
    /** The view being read and sent, if any. */
    private progressSending: Promise<void> | null = null;
    private progressAgain = false;
    private lastProgressAt = 0;
    closed = false;

    constructor(
      readonly runId: string,
      /** Everything up to here has been fanned out to the followers. */
      private cursor: string | null,
    ) {}

    join(sink: RunStreamSink, from: string | null): Follower {
      const f: Follower = { sink, sent: from, buffer: null, caughtUp: Promise.resolve() };
      const until = this.cursor;
      if (compareEventCursors(from, until) < 0) {
        // Behind the shared flow: hold its batches while reading up to where it was on joining.
        f.buffer = [];
        f.caughtUp = track(
          (async () => {
            f.sent = await sendPages(this.runId, from, sink, (sent) => compareEventCursors(sent, until) >= 0);
            const held = f.buffer ?? [];
            f.buffer = null;
            deliver(this, f, held);
          })(),
        ).catch((err: unknown) => {
          if (!stopped) logger.warn({ err: (err as Error).message, runId: this.runId }, 'run events: a catch-up read failed; closing the stream');
          drop(this, f);
        });
      }
      this.followers.add(f);
      return f;
    }

    /** Reads after the feed's cursor once (again if asked while reading) and fans out what it finds. */
    pump(): void {
      if (this.closed || stopped) return;
      if (this.reading) {
        this.again = true;
        return;
      }
      this.reading = true;
      void track(this.read())
        .catch((err: unknown) => logger.error({ err: (err as Error).message, runId: this.runId }, 'run events: fanning out failed'))
        .finally(() => (this.reading = false));
    }

    private async read(): Promise<void> {
      do {
        this.again = false;
        let page;
        try {
          page = await track(eventsAfter(database.pool, { runId: this.runId }, this.cursor, PAGE_SIZE));
        } catch (err) {
          if (this.closed || stopped) return;
          logger.warn({ err: (err as Error).message, runId: this.runId }, 'run events: reading the event log failed; retrying');
          this.retryIn(FAILED_READ_RETRY_MS);
          return;
        }
        if (this.closed) return;
        if (page.events.length > 0) {
          this.cursor = page.events.at(-1)!.cursor;
          for (const f of [...this.followers]) deliver(this, f, page.events);
          if (page.events.some(isFinalEvent)) return void track(this.finish());
          this.progress();
        }
        if (page.events.length === PAGE_SIZE) {
          // A backlog (a run followed from its start): its clients take each page before the next.
          this.again = true;
          await Promise.all([...this.followers].map((f) => f.sink.drained()));
        } else if (page.more) this.retryIn(HELD_BACK_RETRY_MS);
      } while (this.again && !this.closed);
    }

    retryIn(ms: number) {
      if (this.retry) return;
      this.retry = setTimeout(() => {
        this.retry = null;
        this.pump();
      }, ms);
    }

    /** One run view for every follower, at most one per interval: a view coming is a view pending. */
    private progress(): void {
      if (this.progressTimer) return;
      if (this.progressSending) {
        this.progressAgain = true;
        return;
      }
      const wait = Math.max(0, this.lastProgressAt + opts.progressIntervalMs - Date.now());
      this.progressTimer = setTimeout(() => {
        this.progressTimer = null;
        this.progressSending = track(this.sendProgress()).finally(() => {
          this.progressSending = null;
          this.lastProgressAt = Date.now();
          if (this.progressAgain && !this.closed) {
            this.progressAgain = false;
            this.progress();
          }
        });
      }, wait);
    }

    private async sendProgress(): Promise<void> {
      try {
        const run = await track(getRun(database, this.runId));
        if (run) for (const f of this.followers) if (!f.sink.gone()) f.sink.send({ kind: 'progress', run });
      } catch (err) {
        if (!this.closed && !stopped) logger.warn({ err: (err as Error).message, runId: this.runId }, 'run events: reading the run view failed');
      }
    }

    /** The run's final status went out: once every follower has caught up, its last view, then the end. */
    private async finish(): Promise<void> {
      const followers = [...this.followers];
      this.close();
      // The last view goes after every earlier one (none still in flight) and after every event.
      await Promise.all([...followers.map((f) => f.caughtUp), this.progressSending]);
      await this.sendProgress();
      for (const f of followers) f.sink.end();
    }

    /** No follower left (or the run ended): forget the run. */
    close(): void {
      this.closed = true;
      if (feeds.get(this.runId) === this) feeds.delete(this.runId);
      if (this.retry) clearTimeout(this.retry);
      if (this.progressTimer) clearTimeout(this.progressTimer);
      this.retry = this.progressTimer = null;
    }
  }

  const watch = (runIds: string[]) =>
    track(watchRuns(database.pool, runIds, WATCH_SECONDS)).catch((err: unknown) => {
      if (!stopped) logger.warn({ err: (err as Error).message }, 'run events: watching runs failed; their events are read at the next renewal');
    });
  const renew = setInterval(() => {
    if (feeds.size === 0) return;
    void watch([...feeds.keys()]);
    for (const feed of feeds.values()) feed.pump();
  }, WATCH_RENEW_MS);
  renew.unref();

  const heartbeat = setInterval(() => {
    for (const feed of feeds.values()) for (const f of feed.followers) if (!f.sink.gone()) f.sink.send({ kind: 'ping' });
  }, opts.heartbeatSeconds * 1000);
  heartbeat.unref();

  return {
    ready: listener.ready,
    follow(runId, cursor, sink) {
      let feed = feeds.get(runId);
      let created = false;
      if (!feed) {
        feed = new RunFeed(runId, cursor);
        feeds.set(runId, feed);
        created = true;
      }
      const owner = feed;
      const f = owner.join(sink, cursor);
      // A new feed reads once its run is watched and the LISTEN is in place, so nothing falls between.
      if (created) {
        void Promise.all([listener.ready, watch([runId])]).then(() => {
          owner.pump();
          owner.retryIn(FIRST_BACKSTOP_MS);
        });
      }
      return () => leave(owner, f);
    },
    async replay(runId, cursor, sink) {
      await sendPages(runId, cursor, sink, (_sent, page) => page.some(isFinalEvent));
    },
    stats() {
      let followers = 0;
      for (const feed of feeds.values()) followers += feed.followers.size;
      return { runs: feeds.size, followers };
    },
    async stop() {
      stopped = true;
      clearInterval(heartbeat);
      clearInterval(renew);
      for (const feed of [...feeds.values()]) {
        for (const f of feed.followers) f.sink.close();
        feed.close();
      }
      await listener.close();
      await Promise.allSettled([...inFlight]);
    },
  };
}
