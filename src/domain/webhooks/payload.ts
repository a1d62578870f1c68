import type { ClaimedDeliveryRow } from '../../db/queries/webhooks';
import type { runCounts } from '../runs/run-view';

/** The webhook-id of an event's requests (Standard Webhooks): stable over retries, so receivers can deduplicate. */
export function webhookMessageId(eventId: string): string {
  return `evt_${eventId}`;
}

export interface WebhookBody {
  type: string;
  /** When the event happened (not when this attempt was sent: that is the webhook-timestamp header). */
  timestamp: string;
  data: Record<string, unknown>;
}

/** A run event's counts: as `GET /v1/runs/:id` shows them. */
export type RunCounts = Awaited<ReturnType<typeof runCounts>>;

/**
 * What a delivery's request carries: the event's fields (drizzle/0009_events.sql) and its run; a call's
 * events also carry the lead (id, phone, name, variables; null for a direct call), a run's events the
 * run's counts, both read when the attempt is sent.
 */
export function webhookBody(row: ClaimedDeliveryRow, runCounts: RunCounts | null): WebhookBody {
  const data = row.call_id ? { ...row.data, callId: row.call_id, runId: row.run_id, lead: row.lead } : { ...row.data, runId: row.run_id, ...runCounts };
  return { type: row.type, timestamp: row.event_created_at.toISOString(), data };
}
