import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';
import { CALL_DIRECTIONS } from '../db/statuses';

/**
 * Every metric a process records, in one registry per process (the API's and the worker's are
 * separate processes, so each serves its own). A feature adds its metric here, named `outdial_…`.
 *
 * Labels are bounded sets only (a kind, a result, a direction, a route pattern): never a business,
 * run, call or lead id, a phone number or a raw path, so the series count stays fixed however
 * many businesses call.
 */
export const registry = new Registry();

// Node's own process metrics (CPU, memory, event-loop lag, GC, handles), under their standard names.
collectDefaultMetrics({ register: registry });

export const dialOutcomes = new Counter({
  name: 'outdial_dial_outcomes_total',
  help: 'Reserved calls handed to the carrier, by what became of the dial (DialOutcome kind) and path (bulk run or direct call)',
  labelNames: ['outcome', 'direction'] as const,
  registers: [registry],
});

export const statusCallbacks = new Counter({
  name: 'outdial_status_callbacks_total',
  help: 'Verified status callbacks, by what applying them did (applied, unchanged, not-found, sid-mismatch)',
  labelNames: ['result'] as const,
  registers: [registry],
});

export const reconcileOutcomes = new Counter({
  name: 'outdial_reconcile_outcomes_total',
  help: 'Stale active calls checked with the carrier, by outcome (settled, freed, withdrawn, unchanged, error)',
  labelNames: ['outcome'] as const,
  registers: [registry],
});

/** Each delivery attempt of a worker's webhook dispatcher (src/webhooks/dispatcher.ts), by what became of it. */
export const webhookDeliveries = new Counter({
  name: 'outdial_webhook_deliveries_total',
  help: 'Webhook deliveries to businesses, by result',
  labelNames: ['result'] as const,
  registers: [registry],
});

export const carrierRequestDuration = new Histogram({
  name: 'outdial_carrier_request_duration_seconds',
  help: "Time of a carrier API call through the twilio SDK (its own 429 retries included), by operation and the response's status class",
  labelNames: ['operation', 'status_class'] as const,
  buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15],
  registers: [registry],
});

export const slotRefillSeconds = new Histogram({
  name: 'outdial_slot_refill_seconds',
  help: "Time from a business's slot freed by a terminal status to the next claim of a slot of that business (see README, Metrics)",
  labelNames: ['direction'] as const,
  buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
  registers: [registry],
});

export const httpRequestDuration = new Histogram({
  name: 'outdial_http_request_duration_seconds',
  help: 'API requests, by method, matched route pattern ("unmatched" when no route handled it) and status class',
  labelNames: ['method', 'route', 'status_class'] as const,
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  registers: [registry],
});

// Both paths start at zero, so a rate over them exists before the first dial.
for (const direction of CALL_DIRECTIONS) dialOutcomes.labels({ outcome: 'placed', direction });

export type CarrierOperation = 'create' | 'update' | 'fetch' | 'list';

/** A carrier API call, timed; the status class is the HTTP status's (`2xx`, `4xx`, `5xx`) or `none` when no response came. */
export async function timeCarrierRequest<T>(operation: CarrierOperation, request: () => Promise<T>): Promise<T> {
  const end = carrierRequestDuration.startTimer({ operation });
  try {
    const result = await request();
    end({ status_class: '2xx' });
    return result;
  } catch (err) {
    end({ status_class: statusClass((err as { status?: unknown }).status) });
    throw err;
  }
}

export function statusClass(status: unknown): string {
  return typeof status === 'number' && status >= 100 && status < 600 ? `${Math.floor(status / 100)}xx` : 'none';
}
