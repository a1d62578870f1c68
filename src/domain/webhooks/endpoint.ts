import { randomBytes } from 'node:crypto';
import { findBusiness } from '../../db/queries/businesses';
import { CALL_EVENT_TYPES, LEAD_EVENT_TYPES, RUN_EVENT_TYPES, type EventType } from '../../db/queries/events';
import { deleteWebhookEndpoint, findWebhookEndpoint, setWebhookSecret, upsertWebhookEndpoint, type WebhookEndpointRow } from '../../db/queries/webhooks';
import type { DomainDeps } from '../deps';

/**
 * A business's webhook: one URL, the event types it wants, and the secret its deliveries are signed
 * with. The secret is shown when the webhook is set and when it is rotated, never by a read.
 */

/** Every type a webhook may subscribe to: the event log's, but `run.pending` (a run is created pending: no change to report). */
export const WEBHOOK_EVENT_TYPES: readonly EventType[] = [...CALL_EVENT_TYPES, ...RUN_EVENT_TYPES.filter((t) => t !== 'run.pending'), ...LEAD_EVENT_TYPES];

/** How long a rotated-out secret keeps signing unless the rotation says otherwise, and the most it may. */
export const DEFAULT_KEEP_PREVIOUS_SECONDS = 86_400;
export const MAX_KEEP_PREVIOUS_SECONDS = 7 * 86_400;

/** What a webhook gets when it names no events: each call's end and each run's end or pause. */
export const DEFAULT_WEBHOOK_EVENTS: readonly EventType[] = ['call.completed', 'run.completed', 'run.paused', 'run.failed', 'run.canceled'];

export interface WebhookView {
  url: string;
  events: string[];
  /** Until then the secret before the last rotation signs too (a second signature); null: only the current one. */
  previousSecretExpiresAt: string | null;
  createdAt: string;
  updatedAt: string;
}

type Deps = Pick<DomainDeps, 'database'>;

/** A Standard Webhooks secret: `whsec_` + base64 of 32 random bytes. */
function newSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

function viewOf(row: WebhookEndpointRow): WebhookView {
  return {
    url: row.url,
    events: row.events,
    previousSecretExpiresAt: row.previous_secret_expires_at?.toISOString() ?? null,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
}

/** Sets (creates or replaces) the business's webhook; null: no such business. An existing webhook keeps its secret. */
export async function setWebhook(deps: Deps, businessId: string, fields: { url: string; events: readonly string[] }): Promise<{ webhook: WebhookView & { secret: string }; created: boolean } | null> {
  if (!(await findBusiness(deps.database.pool, businessId))) return null;
  const secret = newSecret();
  const row = await upsertWebhookEndpoint(deps.database.pool, businessId, fields.url, [...new Set(fields.events)], secret);
  return { webhook: { ...viewOf(row), secret: row.secret }, created: row.secret === secret };
}

export async function getWebhook(deps: Deps, businessId: string): Promise<WebhookView | null> {
  const row = await findWebhookEndpoint(deps.database.pool, businessId);
  return row ? viewOf(row) : null;
}

/**
 * A new secret, signing from the next attempt on; the old one signs alongside it (a second
 * signature, which Standard Webhooks verifiers accept) for `keepPreviousSeconds`, so receivers can
 * switch without a gap; 0 (a leaked secret) stops it at once.
 */
export async function rotateWebhookSecret(deps: Deps, businessId: string, keepPreviousSeconds: number): Promise<(WebhookView & { secret: string }) | null> {
  const row = await setWebhookSecret(deps.database.pool, businessId, newSecret(), keepPreviousSeconds);
  return row ? { ...viewOf(row), secret: row.secret } : null;
}

/** Removes the webhook; its pending deliveries end as failed. False: the business had none. */
export async function removeWebhook(deps: Deps, businessId: string): Promise<boolean> {
  return deleteWebhookEndpoint(deps.database.pool, businessId);
}
