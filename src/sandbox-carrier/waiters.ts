export class WaitTimeoutError extends Error {
  constructor(description: string, timeoutMs: number) {
    super(`Sandbox carrier: timed out after ${timeoutMs} ms waiting for ${description}`);
    this.name = 'WaitTimeoutError';
  }
}

interface Waiter {
  check: () => boolean;
  resolve: () => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

/**
 * Lets tests wait on the carrier's state instead of sleeping: a predicate is re-checked after every
 * change (coalesced to once per microtask, so it always sees a finished state change).
 */
export class ChangeSignal {
  private waiters = new Set<Waiter>();
  private scheduled = false;

  notify(): void {
    if (this.scheduled || this.waiters.size === 0) return;
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      for (const w of this.waiters) this.settle(w);
    });
  }

  waitFor(check: () => boolean, timeoutMs: number, description: string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        check,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiters.delete(waiter);
          reject(new WaitTimeoutError(description, timeoutMs));
        }, timeoutMs),
      };
      this.waiters.add(waiter);
      this.settle(waiter);
    });
  }

  rejectAll(err: Error): void {
    for (const w of this.waiters) {
      clearTimeout(w.timer);
      w.reject(err);
    }
    this.waiters.clear();
  }

  private settle(w: Waiter): void {
    let done: boolean;
    try {
      done = w.check();
    } catch (err) {
      this.waiters.delete(w);
      clearTimeout(w.timer);
      w.reject(err instanceof Error ? err : new Error(String(err)));
      return;
    }
    if (!done) return;
    this.waiters.delete(w);
    clearTimeout(w.timer);
    w.resolve();
  }
}
