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
 */
export interface SlotWaits {
  /** Resolves once LISTEN is in place. */
  ready: Promise<void>;
  /** Follow `businessId` until the returned function is called (changes of others are not kept). */
  follow(businessId: string): () => void;
  /** Changes of `businessId` heard so far (it must be followed). */
  seen(businessId: string): number;
  /**
   * Resolves at once when `businessId` has changed since `since`; else when a change (or a hand-on)
   * wakes this wait in its turn, after `timeoutMs`, or when stopped (or `signal` aborts).
   */
  wait(businessId: string, since: number, timeoutMs: number, opts?: { runId?: string; signal?: AbortSignal }): Promise<SlotWaitResult>;
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
  wake(): void;
}

interface Followed {
  followers: number;
  changes: number;
  /** In the order they began waiting. */
  waiters: Set<Waiter>;
}

export function startSlotWaits(databaseUrl: string, logger: Logger): SlotWaits {
  const followed = new Map<string, Followed>();
  const stopWaiters = new Set<() => void>();
  let reconnects = 0;
  let stopped = false;
  const wakeAll = (f: Followed) => {
    for (const w of [...f.waiters]) w.wake();
  };
  const seen = (businessId: string) => reconnects + (followed.get(businessId)?.changes ?? 0);
  /** Wakes a waiter that began waiting before the latest change: of the first of `runIds` that has one, else the longest waiting. */
  const wakeNext = (businessId: string, f: Followed, runIds: readonly string[] = []): boolean => {
    const now = seen(businessId);
    const due = [...f.waiters].filter((w) => w.since < now);
    const next = runIds.map((id) => due.find((w) => w.runId === id)).find((w) => w !== undefined) ?? due[0];
    next?.wake();
    return next !== undefined;
  };
  const listener = listen(
    databaseUrl,
    SLOTS_CHANNEL,
    {
      onNotify(payload) {
        // `business` or `business:run` (drizzle/0020_slot_wake_targets.sql).
        const [businessId = '', runId = ''] = payload.split(':');
        const f = followed.get(businessId);
        if (!f) return;
        f.changes += 1;
        wakeNext(businessId, f, runId ? [runId] : []);
      },
      onReconnect() {
        reconnects += 1;
        for (const f of followed.values()) wakeAll(f);
      },
    },
    logger,
  );
  return {
    ready: listener.ready,
    follow(businessId) {
      let f = followed.get(businessId);
      if (!f) followed.set(businessId, (f = { followers: 0, changes: 0, waiters: new Set() }));
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
      return f ? wakeNext(businessId, f, runIds) : false;
    },
    wait(businessId, since, timeoutMs, { runId, signal } = {}) {
      const f = followed.get(businessId);
      if (stopped || signal?.aborted) return Promise.resolve('stopped');
      if (!f || seen(businessId) !== since) return Promise.resolve('changed');
      return new Promise<SlotWaitResult>((resolve) => {
        const done = (result: SlotWaitResult) => {
          clearTimeout(timer);
          f.waiters.delete(waiter);
          stopWaiters.delete(onStop);
          signal?.removeEventListener('abort', onStop);
          resolve(result);
        };
        const waiter: Waiter = { runId, since, wake: () => done('changed') };
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
