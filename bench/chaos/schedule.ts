/**
 * The chaos run's fault schedule, drawn up front from a seeded PRNG so a seed always gives the same
 * faults at the same offsets from the start (what they hit depends on timing, which is not seeded).
 */
import type { FaultInjection } from '../../src/sandbox-carrier';

/** mulberry32: a small, fast, seedable PRNG (uniform in [0, 1)). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export type Rng = () => number;
export const between = (rng: Rng, low: number, high: number) => low + rng() * (high - low);
export const pick = <T>(rng: Rng, items: readonly T[]): T => items[Math.floor(rng() * items.length)]!;

/** The carrier faults, each with how it is injected; `weight` is how often it is drawn. */
export const CARRIER_FAULTS = [
  { kind: 'create-429', weight: 3, inject: (rng: Rng) => ({ create429: 1 + Math.floor(rng() * 5) }) },
  { kind: 'create-500', weight: 2, inject: () => ({ create5xx: { count: 1, status: 500 } }) },
  { kind: 'create-503', weight: 2, inject: () => ({ create5xx: { count: 1, status: 503 } }) },
  { kind: 'create-5xx-created', weight: 2, inject: (rng: Rng) => ({ create5xx: { count: 1, status: pick(rng, [500, 503]), created: true } }) },
  { kind: 'create-answer-after-timeout', weight: 1, inject: (_rng: Rng, lateMs: number) => ({ acceptThenTimeout: { delayMs: lateMs } }) },
  { kind: 'callback-final-dropped', weight: 1, inject: () => ({ callbacks: { faults: [{ kind: 'drop', events: ['completed'] }] } }) },
  {
    kind: 'callback-progress-dropped',
    weight: 2,
    inject: (rng: Rng) => ({ callbacks: { faults: [{ kind: 'drop', events: [pick(rng, ['initiated', 'ringing', 'answered'] as const)] }] } }),
  },
  { kind: 'callback-duplicated', weight: 3, inject: () => ({ callbacks: { faults: [{ kind: 'duplicate' }] } }) },
  {
    kind: 'callback-bad-signature',
    weight: 2,
    inject: (rng: Rng) => ({ callbacks: { faults: [{ kind: 'bad-signature', events: [pick(rng, ['initiated', 'ringing', 'answered', 'completed'] as const)] }] } }),
  },
] as const satisfies readonly { kind: string; weight: number; inject: (rng: Rng, lateMs: number) => FaultInjection }[];

export type CarrierFaultKind = (typeof CARRIER_FAULTS)[number]['kind'];
export type ServerFault = 'api-kill' | 'postgres-restart' | 'temporal-restart';

export type ScheduledFault =
  | { at: number; kind: 'worker-kill'; victim: number }
  | { at: number; kind: 'all-workers-kill' }
  | { at: number; kind: ServerFault; downMs: number }
  | { at: number; kind: CarrierFaultKind; injection: FaultInjection };

export interface ScheduleOptions {
  seed: number;
  /** Faults are made during the first `chaosMs` after the runs start. */
  chaosMs: number;
  /** How long a held create answer waits: beyond the client's request timeout. */
  lateAnswerMs: number;
}

/** Every fault of the run, by offset (ms) from the start, in order. */
export function faultSchedule({ seed, chaosMs, lateAnswerMs }: ScheduleOptions): ScheduledFault[] {
  const rng = prng(seed);
  const faults: ScheduledFault[] = [];
  // Workers: one SIGKILLed every 2-5 s (a replacement is started at once); the kill nearest the
  // middle of the window kills all three together instead.
  const kills: number[] = [];
  for (let at = between(rng, 2_000, 4_000); at < chaosMs; at += between(rng, 2_000, 5_000)) kills.push(at);
  const allAt = kills.reduce((best, at) => (Math.abs(at - chaosMs / 2) < Math.abs(best - chaosMs / 2) ? at : best), kills[0] ?? 0);
  for (const at of kills) faults.push(at === allAt ? { at, kind: 'all-workers-kill' } : { at, kind: 'worker-kill', victim: Math.floor(rng() * 3) });
  // The servers: one outage each, in separate stretches of the window, 1-3 s down.
  const servers: [ServerFault, number, number][] = [
    ['api-kill', 0.15, 0.3],
    ['postgres-restart', 0.4, 0.55],
    ['temporal-restart', 0.7, 0.85],
  ];
  for (const [kind, from, to] of servers) faults.push({ at: between(rng, from, to) * chaosMs, kind, downMs: between(rng, 1_000, 3_000) });
  // The carrier: a fault every 0.3-1.2 s, drawn by weight.
  const total = CARRIER_FAULTS.reduce((sum, f) => sum + f.weight, 0);
  for (let at = between(rng, 300, 1_200); at < chaosMs; at += between(rng, 300, 1_200)) {
    let draw = rng() * total;
    const fault = CARRIER_FAULTS.find((f) => (draw -= f.weight) < 0) ?? CARRIER_FAULTS[0];
    faults.push({ at, kind: fault.kind, injection: fault.inject(rng, lateAnswerMs) });
  }
  return faults.sort((a, b) => a.at - b.at);
}
