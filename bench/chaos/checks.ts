/** The chaos run's verdicts, computed from the sandbox carrier's own records. */
import type { CallbackRecord, CallView } from '../../src/sandbox-carrier';

/**
 * The most calls live at once, from the calls' [createdAt, endTime] intervals (a call not ended
 * counts as live until `now`). At the same millisecond an end is counted before a create, as the
 * carrier frees a slot before the terminal callback that lets a client dial again.
 */
export function peakLive(calls: Pick<CallView, 'createdAt' | 'endTime'>[], now: number): number {
  let peak = 0;
  sweep(calls, now, (live) => (peak = Math.max(peak, live)));
  return peak;
}

/** Milliseconds between the first and the last create during which none of the calls was live: the business sat idle with leads left. */
export function idleWithLeadsLeft(calls: Pick<CallView, 'createdAt' | 'endTime'>[], now: number): number {
  let idle = 0;
  let idleSince: number | null = null;
  sweep(calls, now, (live, at) => {
    if (live === 0) idleSince = at;
    else if (idleSince !== null) {
      idle += at - idleSince;
      idleSince = null;
    }
  });
  return idle;
}

/** Calls `step(live, at)` after each create and end, in time order (at the same ms, ends first). */
function sweep(calls: Pick<CallView, 'createdAt' | 'endTime'>[], now: number, step: (live: number, at: number) => void) {
  const edges = calls.flatMap((c) => [
    { at: c.createdAt, delta: 1 },
    { at: c.endTime ?? now, delta: -1 },
  ]);
  edges.sort((a, b) => a.at - b.at || a.delta - b.delta);
  let live = 0;
  for (const e of edges) step((live += e.delta), e.at);
}

export interface DialCount {
  /** Lead numbers created at the carrier at least once. */
  dialed: number;
  /** Lead numbers created more than once, with how many times. */
  duplicates: [string, number][];
  /** Lead numbers never created. */
  missing: string[];
  /** Numbers created that are no lead of the business. */
  unexpected: string[];
}

/** How often each lead number was created at the carrier (a refused create made no call, so it is not there). */
export function countDials(leads: string[], calls: Pick<CallView, 'to'>[]): DialCount {
  const times = new Map<string, number>();
  for (const c of calls) times.set(c.to, (times.get(c.to) ?? 0) + 1);
  const expected = new Set(leads);
  return {
    dialed: leads.filter((n) => times.has(n)).length,
    duplicates: [...times].filter(([n, k]) => expected.has(n) && k > 1),
    missing: leads.filter((n) => !times.has(n)),
    unexpected: [...times.keys()].filter((n) => !expected.has(n)),
  };
}

/** Callbacks answered 5xx whose delivery did not overlap one of the `allowed` windows (epoch ms). */
export function callbacks5xxOutside(callbacks: CallbackRecord[], allowed: [number, number][]): CallbackRecord[] {
  return callbacks.filter((c) => {
    if (c.responseStatus === null || c.responseStatus < 500) return false;
    const from = c.sentAt ?? c.firedAt;
    return !allowed.some(([start, end]) => from <= end && c.finishedAt >= start);
  });
}
