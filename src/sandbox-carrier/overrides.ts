import type { SendResult } from './http-sender';
import { splitFragment } from './signing';

/** Twilio's webhook connection overrides, read from the StatusCallback URL's fragment. */
export interface Overrides {
  retries: number;
  policy: Set<string>;
  connectTimeoutMs: number;
  responseTimeoutMs: number;
}

function clamp(value: string | null, min: number, max: number, fallback: number): number {
  const n = value === null ? NaN : Number(value);
  return Number.isFinite(n) ? Math.min(max, Math.max(min, Math.round(n))) : fallback;
}

export function parseOverrides(url: string): Overrides {
  const q = new URLSearchParams(splitFragment(url).fragment);
  const rt = clamp(q.get('rt'), 100, 15_000, 15_000);
  const tt = clamp(q.get('tt'), 100, 15_000, 15_000);
  return {
    retries: clamp(q.get('rc'), 0, 5, 1),
    // Default `ct`: only connection failures are retried (see docs: the Twilio default is unconfirmed).
    policy: new Set((q.get('rp') ?? 'ct').split(',').map((s) => s.trim())),
    connectTimeoutMs: clamp(q.get('ct'), 100, 10_000, 5_000),
    responseTimeoutMs: Math.min(rt, tt),
  };
}

export function shouldRetry(result: SendResult, policy: Set<string>): boolean {
  if (policy.has('all')) return result.kind !== 'aborted';
  switch (result.kind) {
    case 'connection-error':
      return policy.has('ct');
    case 'timeout':
      return policy.has('rt');
    case 'response':
      return (result.status >= 400 && result.status < 500 && policy.has('4xx')) || (result.status >= 500 && policy.has('5xx'));
    default:
      return false;
  }
}
