import { listen } from '../db/listen';
import { SLOTS_CHANNEL } from '../db/queries/businesses';
import type { Logger } from '../logger';

export type SlotWaitResult = 'changed' | 'timeout' | 'stopped';

/**
 * Waits for a business's slots to change, heard from Postgres on one LISTEN connection per worker
 * process. A dial session reads `seen` before its claim and then waits for it to move, so a slot
 * freed while the claim ran is not missed.
 *
 * A change wakes one waiting session of the business, not all of them: the session of the run it
 * names (the run whose call ended, whose reservation was withdrawn, whose status changed), else the
 * one that has waited longest. With every session woken, each freed slot cost a claim per run of
 * the business, each under its lock and each reading every run's demand, and all but one found
 * nothing. A session whose claim leaves slots it cannot use hands them on (`handOn`): to the runs its
 * claim found could use them, else to the longest-waiting session that has not claimed since the
 * change. After a reconnect every business counts as changed (notifications sent meanwhile are
 * lost): each waiting session claims again.
 *
 * A notification carries the transaction that freed the slot. A session whose last claim counted
 * the slots in a snapshot that already saw that transaction committed has used or passed over that
 * slot: it is not sent to claim again for it (a pass claims every free slot, so under load the
 * notifications of slots an earlier pass took arrived after it, and each cost a claim that found
 * nothing).
 */
export interface SlotWaits {
  /** Resolves once LISTEN is in place. */
  ready: Promise<void>;
  /** Follow `businessId` until the returned function is called (changes of others are not kept). */
  follow(businessId: string): () => void;
  /** Changes of `businessId` heard so far (it must be followed). */
  seen(businessId: string): number;
  /**
   * Resolves at once when `businessId` has changed since `since` (`counted`: the snapshot, as
   * `pg_current_snapshot()` prints it, the session's last claim counted the slots in; changes it
   * saw do not count); else when a change (or a hand-on)
   * wakes this wait in its turn, after `timeoutMs`, or when stopped (or `signal` aborts).
   */
  wait(businessId: string, since: number, timeoutMs: number, opts?: { runId?: string; signal?: AbortSignal; counted?: string }): Promise<SlotWaitResult>;
  /**
   * Slots of `businessId` are left that this session cannot use: one session that has not claimed
   * since the latest change is woken for them, of the first of `runIds` waiting here, else the
   * longest waiting. Returns whether one was.
   */
  handOn(businessId: string, runIds?: readonly string[]): boolean;
  /** Ends every wait ('stopped') and any to come: the worker is shutting down. */
  stop(): Promise<void>;
}

interface Waiter {
  runId: string | undefined;
  /** `seen` when it began waiting: it has claimed since every change up to it. */
  since: number;
  /** The snapshot its last claim counted in. */
  counted: Snapshot | null;
  wake(): void;
}

/** A change heard: its number, and the transaction that made it (null: a limit change, a check due, a reconnect). */
interface Change {
  seq: number;
  xid: bigint | null;
}

interface Followed {
  followers: number;
  /** Changes heard so far. */
  changes: number;
  /** The latest of them, oldest first (at most KEPT_CHANGES). */
  recent: Change[];
  /** In the order they began waiting. */
  waiters: Set<Waiter>;
}

/** Changes kept per business to match against snapshots; a session further behind claims again. */
const KEPT_CHANGES = 256;

/** A Postgres snapshot (`xmin:xmax:xip,…`): which transactions it saw committed. */
interface Snapshot {
  xmin: bigint;
  xmax: bigint;
  inProgress: Set<bigint>;
}

export function parseSnapshot(text: string): Snapshot | null {
  const m = /^(\d+):(\d+):([\d,]*)$/.exec(text);
  if (!m) return null;
  return { xmin: BigInt(m[1]!), xmax: BigInt(m[2]!), inProgress: new Set(m[3] ? m[3].split(',').map((x) => BigInt(x)) : []) };
}

/** Whether the transaction had committed for the snapshot (it sent a notification, so it did not abort): Postgres's own rule. */
export function sawCommitted(snapshot: Snapshot | null, xid: bigint | null): boolean {
  if (!snapshot || xid === null) return false;
  return xid < snapshot.xmin || (xid < snapshot.xmax && !snapshot.inProgress.has(xid));
}

/** Whether `f` changed since `since` in a way the snapshot `counted` did not see. */
function changedFor(f: Followed, since: number, counted: Snapshot | null): boolean {
  if (f.changes <= since) return false;
  const oldest = f.recent[0]?.seq ?? f.changes + 1;
  if (since + 1 < oldest) return true;
  return f.recent.some((c) => c.seq > since && !sawCommitted(counted, c.xid));
}

export function startSlotWaits(databaseUrl: string, logger: Logger): SlotWaits {
  const followed = new Map<string, Followed>();
  const stopWaiters = new Set<() => void>();
  let stopped = false;
  const wakeAll = (f: Followed) => {
    for (const w of [...f.waiters]) w.wake();
  };
  const seen = (businessId: string) => followed.get(businessId)?.changes ?? 0;
  const record = (f: Followed, xid: bigint | null) => {
    f.changes += 1;
    f.recent.push({ seq: f.changes, xid });
    if (f.recent.length > KEPT_CHANGES) f.recent.shift();
  };
  /**
   * Wakes a waiter that began waiting before the latest change (`xid`: the transaction that made it,
   * which a waiter's last claim may already have seen): of the first of `runIds` that has one, else
   * the longest waiting.
   */
  const wakeNext = (f: Followed, runIds: readonly string[] = [], xid: bigint | null = null): boolean => {
    const due = [...f.waiters].filter((w) => w.since < f.changes && !sawCommitted(w.counted, xid));
    const next = runIds.map((id) => due.find((w) => w.runId === id)).find((w) => w !== undefined) ?? due[0];
    next?.wake();
    return next !== undefined;
  };
  const listener = listen(
    databaseUrl,
    SLOTS_CHANNEL,
    {
      onNotify(payload) {
        // `business`, or `business:run:xid` (drizzle/0021_slot_notify_xid.sql; the run may be empty).
        const [businessId = '', runId = '', xid = ''] = payload.split(':');
        const f = followed.get(businessId);
        if (!f) return;
        const changedBy = /^\d+$/.test(xid) ? BigInt(xid) : null;
        record(f, changedBy);
        wakeNext(f, runId ? [runId] : [], changedBy);
      },
      onReconnect() {
        for (const f of followed.values()) {
          record(f, null);
          wakeAll(f);
        }
      },
    },
    logger,
  );
  return {
    ready: listener.ready,
    follow(businessId) {
      let f = followed.get(businessId);
      if (!f) followed.set(businessId, (f = { followers: 0, changes: 0, recent: [], waiters: new Set() }));
      f.followers += 1;
      let left = false;
      return () => {
        if (left) return;
        left = true;
        f.followers -= 1;
        if (f.followers === 0 && followed.get(businessId) === f) followed.delete(businessId);
      };
    },
    seen,
    handOn(businessId, runIds) {
      const f = followed.get(businessId);
      return f ? wakeNext(f, runIds) : false;
    },
    wait(businessId, since, timeoutMs, { runId, signal, counted: countedText } = {}) {
      const f = followed.get(businessId);
      if (stopped || signal?.aborted) return Promise.resolve('stopped');
      const counted = countedText ? parseSnapshot(countedText) : null;
      if (!f || changedFor(f, since, counted)) return Promise.resolve('changed');
      return new Promise<SlotWaitResult>((resolve) => {
        const done = (result: SlotWaitResult) => {
          clearTimeout(timer);
          f.waiters.delete(waiter);
          stopWaiters.delete(onStop);
          signal?.removeEventListener('abort', onStop);
          resolve(result);
        };
        // Waiting from now: every change so far was seen or counted, so only later ones wake it.
        const waiter: Waiter = { runId, since: f.changes, counted, wake: () => done('changed') };
        const onStop = () => done('stopped');
        const timer = setTimeout(() => done('timeout'), Math.max(0, timeoutMs));
        f.waiters.add(waiter);
        stopWaiters.add(onStop);
        signal?.addEventListener('abort', onStop);
      });
    },
    async stop() {
      stopped = true;
      for (const w of [...stopWaiters]) w();
      await listener.close();
    },
  };
}
