import type { ClaimedDeliveryRow } from '../../db/queries/webhooks';

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

/**
 * What a delivery's request carries: the event's fields (drizzle/0009_events.sql) and its run; a call's
 * events also carry the lead (id, phone, name, variables) read at delivery time; null for a direct call.
 */
export function webhookBody(row: ClaimedDeliveryRow): WebhookBody {
  const data = row.call_id ? { ...row.data, callId: row.call_id, runId: row.run_id, lead: row.lead } : { ...row.data, runId: row.run_id };
  return { type: row.type, timestamp: row.event_created_at.toISOString(), data };
}
