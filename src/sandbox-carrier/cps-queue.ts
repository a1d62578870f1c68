/**
 * Twilio queues calls beyond the account's calls-per-second and dials them at that pace. A FIFO
 * released by one timer per account keeps the pace exact even when a queued call is canceled.
 */
export class CpsQueue<T> {
  private items: T[] = [];
  private head = 0;
  private nextAt = 0;
  private timer: NodeJS.Timeout | null = null;
  private immediate: NodeJS.Immediate | null = null;
  private intervalMs: number;

  constructor(
    callsPerSecond: number,
    private readonly release: (item: T) => void,
  ) {
    this.intervalMs = 1000 / callsPerSecond;
  }

  get length(): number {
    return this.items.length - this.head;
  }

  get callsPerSecond(): number {
    return 1000 / this.intervalMs;
  }

  /** Adds an item and returns the estimated wait in ms before it is released (Twilio's queue_time). */
  push(item: T): number {
    const now = Date.now();
    // After an idle spell the pace restarts from now instead of bursting through missed slots.
    if (this.length === 0 && this.nextAt < now) this.nextAt = now;
    this.items.push(item);
    const estimate = Math.max(0, this.nextAt - now) + (this.length - 1) * this.intervalMs;
    this.wake();
    return Math.round(estimate);
  }

  remove(item: T): boolean {
    const i = this.items.indexOf(item, this.head);
    if (i < 0) return false;
    this.items.splice(i, 1);
    return true;
  }

  setCallsPerSecond(callsPerSecond: number): void {
    this.intervalMs = 1000 / callsPerSecond;
    this.nextAt = Math.min(this.nextAt, Date.now() + this.intervalMs);
    if (this.length === 0) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.wake();
  }

  clear(): void {
    if (this.timer) clearTimeout(this.timer);
    if (this.immediate) clearImmediate(this.immediate);
    this.timer = null;
    this.immediate = null;
    this.items = [];
    this.head = 0;
    this.nextAt = 0;
  }

  private wake(): void {
    // The create response must leave first, so release on the next turn even when a slot is free.
    if (this.timer || this.immediate) return;
    this.immediate = setImmediate(() => {
      this.immediate = null;
      this.pump();
    });
  }

  private pump(): void {
    const now = Date.now();
    while (this.length > 0 && this.nextAt <= now) {
      const item = this.items[this.head] as T;
      this.head++;
      // A late timer (or a CPS above 1000, finer than timers) catches up on the slots it missed.
      this.nextAt += this.intervalMs;
      this.release(item);
    }
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    if (this.length > 0) {
      this.timer = setTimeout(
        () => {
          this.timer = null;
          this.pump();
        },
        Math.max(1, this.nextAt - now),
      );
    }
  }
}
