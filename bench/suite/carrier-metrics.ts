/**
 * Figures read at the sandbox carrier only (its call records: createdAt, endTime, from, to), never
 * from a dialer's own tables, so Outdial and the polling dialer are measured by one instrument.
 */
import type { CallView, SandboxCarrier } from '../../src/sandbox-carrier';

export const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;

/**
 * A business's refill latencies in ms: the i-th call to end frees the slot that the (limit + i)-th
 * create fills (FIFO over a business that always has work queued), so each latency is that create
 * minus that end. Pairing in order, rather than "the next create after each end", never credits one
 * create to two ends.
 */
export function refillLatencies(calls: CallView[], limit: number): number[] {
  const creates = calls.map((c) => c.createdAt).sort((a, b) => a - b);
  const ends = calls.map((c) => c.endTime ?? Infinity).sort((a, b) => a - b);
  const out: number[] = [];
  for (let i = 0; i + limit < creates.length; i++) out.push(creates[i + limit]! - ends[i]!);
  return out;
}

/** Time a call held its slot at the carrier: from the create to the end. */
export const slotMs = (c: CallView) => (c.endTime ?? c.createdAt) - c.createdAt;

/** Makespan (first create to last end) over the ideal: every slot busy all the time, sum of slot times / limit. */
export function makespanOverIdeal(calls: CallView[], limit: number): number {
  const first = Math.min(...calls.map((c) => c.createdAt));
  const last = Math.max(...calls.map((c) => c.endTime ?? c.createdAt));
  const ideal = calls.reduce((sum, c) => sum + slotMs(c), 0) / limit;
  return (last - first) / ideal;
}

/**
 * The makespan the same calls would have with every refill at 0 ms, over the same ideal: each call,
 * in the order it was created, starts the moment the first slot frees. Above 1 by the schedule's own
 * tail (the last calls end unevenly), which no dialer can remove.
 */
export function zeroRefillMakespanOverIdeal(calls: CallView[], limit: number): number {
  const lengths = [...calls].sort((a, b) => a.createdAt - b.createdAt).map(slotMs);
  const free = Array.from({ length: limit }, () => 0);
  for (const ms of lengths) {
    const slot = free.indexOf(Math.min(...free));
    free[slot] = free[slot]! + ms;
  }
  return Math.max(...free) / (lengths.reduce((a, b) => a + b, 0) / limit);
}

/** Creates per second between the 10th and the 90th percentile of creates (ramp-up and tail left out). */
export function busyWindowRate(calls: CallView[]): number {
  const creates = calls.map((c) => c.createdAt).sort((a, b) => a - b);
  const lo = Math.floor(creates.length * 0.1);
  const hi = Math.floor(creates.length * 0.9);
  return ((hi - lo) * 1000) / (creates[hi]! - creates[lo]!);
}

/** Numbers created more than once. */
export function duplicates(calls: CallView[]): number {
  const seen = new Set<string>();
  let dup = 0;
  for (const c of calls) {
    if (seen.has(c.to)) dup++;
    seen.add(c.to);
  }
  return dup;
}

/** How far the carrier's peak of simultaneous calls per caller went over each caller's limit, summed. */
export function limitViolations(carrier: SandboxCarrier, limits: Map<string, number>): number {
  const perFrom = carrier.stats().perFrom;
  let over = 0;
  for (const [callerId, limit] of limits) over += Math.max(0, (perFrom[callerId]?.peak ?? 0) - limit);
  return over;
}

/**
 * Resolves once the carrier has at least `expected` calls of each caller and none of them live.
 * Checks once a second, and lists calls only when a caller has nothing live (listing every call on
 * each change would cost more than the run it measures).
 */
export async function carrierDone(carrier: SandboxCarrier, expected: Map<string, number>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const pending = new Map(expected);
  while (pending.size) {
    const perFrom = carrier.stats().perFrom;
    for (const [callerId, n] of pending) {
      if ((perFrom[callerId]?.live ?? 0) === 0 && carrier.calls({ from: callerId }).length >= n) pending.delete(callerId);
    }
    if (!pending.size) return;
    if (Date.now() > deadline) throw new Error(`the carrier did not see every lead of ${pending.size} callers dialed and ended within ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}
