import type { Logger } from '../logger';
import { isOutage } from './errors';

/**
 * Carrier callbacks that arrived while Postgres (or Temporal) was unreachable were answered 503, and
 * Twilio retries no 5xx by default. This API process keeps them, in arrival order and bounded, and
 * handles them again once its servers answer: a slot freed during an outage is freed within about a
 * second of its end, not at the call's next check with the carrier. Memory only: a process that dies
 * loses them, and reconciliation settles those calls from the carrier as before. A replayed callback
 * goes through the whole handler again (signature, then the idempotent status write).
 */
export interface CallbackReplay {
  /** Keeps `handle` to run again after an outage (the oldest is dropped when full). */
  defer(handle: () => Promise<void>): void;
  /** Callbacks waiting. */
  readonly size: number;
  /** Drops what waits (reconciliation still covers it) and stops retrying. */
  stop(): void;
}

/** Between two tries while the outage lasts: each try is one failed connection, cheap. */
const RETRY_MS = 500;

export function createCallbackReplay(opts: { max: number; logger: Logger }): CallbackReplay {
  const waiting: (() => Promise<void>)[] = [];
  let timer: NodeJS.Timeout | null = null;
  let stopped = false;

  const schedule = () => {
    if (timer || stopped || waiting.length === 0) return;
    timer = setTimeout(() => void drain(), RETRY_MS);
    timer.unref();
  };

  async function drain(): Promise<void> {
    const before = waiting.length;
    while (waiting.length > 0 && !stopped) {
      try {
        await waiting[0]!();
      } catch (err) {
        // Still down: try again later, from the same callback, so the order holds.
        if (isOutage(err)) break;
        // Anything else (a 4xx now, a bad signature) is what the first answer would have been: dropped.
        opts.logger.warn({ err: (err as Error).message }, 'a deferred carrier callback could not be applied; reconciliation covers its call');
      }
      waiting.shift();
    }
    if (before > waiting.length) opts.logger.info({ replayed: before - waiting.length, waiting: waiting.length }, 'deferred carrier callbacks handled after an outage');
    timer = null;
    schedule();
  }

  return {
    defer(handle) {
      if (stopped || opts.max === 0) return;
      if (waiting.length >= opts.max) waiting.shift();
      waiting.push(handle);
      schedule();
    },
    get size() {
      return waiting.length;
    },
    stop() {
      stopped = true;
      waiting.length = 0;
      if (timer) clearTimeout(timer);
    },
  };
}
