import { listWebhookDeliveries, type DeliveryPosition, type WebhookDeliveryRow } from '../../db/queries/webhooks';
import type { WebhookDeliveryStatus } from '../../db/schema';
import type { DomainDeps } from '../deps';
import { webhookMessageId } from './payload';

export interface WebhookDeliveryView {
  /** The webhook-id header of its requests: the same on every attempt. */
  eventId: string;
  type: string;
  status: WebhookDeliveryStatus;
  attempts: number;
  lastStatusCode: number | null;
  lastError: string | null;
  /** When the next attempt is due; null once delivered or failed. */
  nextAttemptAt: string | null;
  deliveredAt: string | null;
  createdAt: string;
}

function viewOf(row: WebhookDeliveryRow): WebhookDeliveryView {
  return {
    eventId: webhookMessageId(row.event_id),
    type: row.type,
    status: row.status,
    attempts: row.attempts,
    lastStatusCode: row.last_status_code,
    lastError: row.last_error,
    nextAttemptAt: row.status === 'pending' ? row.next_attempt_at.toISOString() : null,
    deliveredAt: row.delivered_at?.toISOString() ?? null,
    createdAt: row.created_at.toISOString(),
  };
}

/** The opaque cursor of a page that ends at `row`. */
function cursorOf(row: WebhookDeliveryRow): string {
  return Buffer.from(`${row.created_us}.${row.id}`).toString('base64url');
}

/** The position a cursor names, or null when it is not one of ours. */
export function parseDeliveryCursor(cursor: string): DeliveryPosition | null {
  const m = /^(\d{1,19})\.(\d{1,19})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  return m ? { createdUs: m[1]!, id: m[2]! } : null;
}

/** A page of the business's deliveries, newest first. */
export async function listDeliveries(
  deps: Pick<DomainDeps, 'database'>,
  businessId: string,
  page: { statuses: WebhookDeliveryStatus[] | null; cursor: DeliveryPosition | null; limit: number },
): Promise<{ data: WebhookDeliveryView[]; nextCursor: string | null }> {
  const rows = await listWebhookDeliveries(deps.database.pool, businessId, { statuses: page.statuses, before: page.cursor, limit: page.limit + 1 });
  const shown = rows.slice(0, page.limit);
  return { data: shown.map(viewOf), nextCursor: rows.length > page.limit ? cursorOf(shown.at(-1)!) : null };
}
