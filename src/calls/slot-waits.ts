import { listen } from '../db/listen';
import { SLOTS_CHANNEL } from '../db/queries/businesses';
import type { Logger } from '../logger';

export type SlotWaitResult = 'changed' | 'timeout' | 'stopped';

/**
 * Waits for a business's slots to change, heard from Postgres on one LISTEN connection per worker
 * process. A dial session reads `seen` before its claim and then waits for it to move, so a slot
 * freed while the claim ran is not missed. After a reconnect every business counts as changed
 * (notifications sent meanwhile are lost): each waiting session claims again.
 */
export interface SlotWaits {
  /** Resolves once LISTEN is in place. */
  ready: Promise<void>;
  /** Follow `businessId` until the returned function is called (changes of others are not kept). */
  follow(businessId: string): () => void;
  /** Changes of `businessId` heard so far (it must be followed). */
  seen(businessId: string): number;
  /** Resolves when `businessId` has changed since `since`, after `timeoutMs`, or when stopped (or `signal` aborts). */
  wait(businessId: string, since: number, timeoutMs: number, signal?: AbortSignal): Promise<SlotWaitResult>;
  /** Ends every wait ('stopped') and any to come: the worker is shutting down. */
  stop(): Promise<void>;
}

interface Followed {
  followers: number;
  changes: number;
  waiters: Set<() => void>;
}

export function startSlotWaits(databaseUrl: string, logger: Logger): SlotWaits {
  const followed = new Map<string, Followed>();
  const stopWaiters = new Set<() => void>();
  let reconnects = 0;
  let stopped = false;
  const wakeAll = (f: Followed) => {
    for (const w of f.waiters) w();
    f.waiters.clear();
  };
  const listener = listen(
    databaseUrl,
    SLOTS_CHANNEL,
    {
      onNotify(businessId) {
        const f = followed.get(businessId);
        if (!f) return;
        f.changes += 1;
        wakeAll(f);
      },
      onReconnect() {
        reconnects += 1;
        for (const f of followed.values()) wakeAll(f);
      },
    },
    logger,
  );
  const seen = (businessId: string) => reconnects + (followed.get(businessId)?.changes ?? 0);
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
    wait(businessId, since, timeoutMs, signal) {
      const f = followed.get(businessId);
      if (stopped || signal?.aborted) return Promise.resolve('stopped');
      if (!f || seen(businessId) !== since) return Promise.resolve('changed');
      return new Promise<SlotWaitResult>((resolve) => {
        const done = (result: SlotWaitResult) => {
          clearTimeout(timer);
          f.waiters.delete(onChange);
          stopWaiters.delete(onStop);
          signal?.removeEventListener('abort', onStop);
          resolve(result);
        };
        const onChange = () => done('changed');
        const onStop = () => done('stopped');
        const timer = setTimeout(() => done('timeout'), Math.max(0, timeoutMs));
        f.waiters.add(onChange);
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
