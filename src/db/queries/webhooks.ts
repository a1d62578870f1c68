import type { WebhookDeliveryStatus } from '../schema';
import type { Executor } from './executor';

/**
 * Queries of `webhook_endpoints` (a business's webhook) and `webhook_deliveries` (the outbox the
 * trigger of drizzle/0010_webhooks.sql fills from `events`).
 */

/** The channel the outbox trigger notifies after a commit that added deliveries. */
export const WEBHOOKS_CHANNEL = 'outdial_webhooks';

export interface WebhookEndpointRow {
  business_id: string;
  url: string;
  events: string[];
  secret: string;
  /** When the previous secret stops signing; null: it signs no more (none, or expired). */
  previous_secret_expires_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

const ENDPOINT_COLUMNS =
  'business_id, url, events, secret, CASE WHEN previous_secret_expires_at > now() THEN previous_secret_expires_at END AS previous_secret_expires_at, created_at, updated_at';

/** Sets the business's webhook; an existing one keeps its secret (`secret` is used only for a new one). */
export async function upsertWebhookEndpoint(db: Executor, businessId: string, url: string, events: string[], secret: string): Promise<WebhookEndpointRow> {
  const r = await db.query<WebhookEndpointRow>(
    `INSERT INTO webhook_endpoints (business_id, url, events, secret) VALUES ($1, $2, $3, $4)
     ON CONFLICT (business_id) DO UPDATE SET url = EXCLUDED.url, events = EXCLUDED.events, updated_at = now()
     RETURNING ${ENDPOINT_COLUMNS}`,
    [businessId, url, events, secret],
  );
  return r.rows[0]!;
}

export async function findWebhookEndpoint(db: Executor, businessId: string): Promise<WebhookEndpointRow | null> {
  const r = await db.query<WebhookEndpointRow>(`SELECT ${ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE business_id = $1`, [businessId]);
  return r.rows[0] ?? null;
}

/** A new secret; the one it replaces keeps signing (a second signature) for `keepPreviousSeconds` (0: stops now). */
export async function setWebhookSecret(db: Executor, businessId: string, secret: string, keepPreviousSeconds: number): Promise<WebhookEndpointRow | null> {
  const r = await db.query<WebhookEndpointRow>(
    `UPDATE webhook_endpoints
        SET previous_secret = CASE WHEN $3 > 0 THEN secret END,
            previous_secret_expires_at = CASE WHEN $3 > 0 THEN now() + make_interval(secs => $3) END,
            secret = $2, updated_at = now()
      WHERE business_id = $1 RETURNING ${ENDPOINT_COLUMNS}`,
    [businessId, secret, keepPreviousSeconds],
  );
  return r.rows[0] ?? null;
}

/** Removes the webhook and ends its pending deliveries as failed (nowhere left to send them); false if none. */
export async function deleteWebhookEndpoint(db: Executor, businessId: string): Promise<boolean> {
  const r = await db.query<{ deleted: boolean }>(
    `WITH gone AS (DELETE FROM webhook_endpoints WHERE business_id = $1 RETURNING business_id),
          ended AS (
            UPDATE webhook_deliveries SET status = 'failed', locked_until = NULL, last_error = 'the webhook was removed'
             WHERE business_id IN (SELECT business_id FROM gone) AND status = 'pending'
          )
     SELECT EXISTS (SELECT 1 FROM gone) AS deleted`,
    [businessId],
  );
  return r.rows[0]!.deleted;
}

export interface WebhookDeliveryRow {
  id: string;
  event_id: string;
  type: string;
  status: WebhookDeliveryStatus;
  attempts: number;
  last_status_code: number | null;
  last_error: string | null;
  next_attempt_at: Date;
  delivered_at: Date | null;
  created_at: Date;
  /** created_at in microseconds since the epoch, exact (a Date keeps milliseconds): the page position. */
  created_us: string;
}

/** A position in a business's deliveries, newest first: created_at in exact microseconds, and id. */
export interface DeliveryPosition {
  createdUs: string;
  id: string;
}

/** One page of a business's deliveries, newest first (by created_at, id), before `before` (keyset). */
export async function listWebhookDeliveries(
  db: Executor,
  businessId: string,
  page: { statuses: WebhookDeliveryStatus[] | null; before: DeliveryPosition | null; limit: number },
): Promise<WebhookDeliveryRow[]> {
  const r = await db.query<WebhookDeliveryRow>(
    `SELECT id::text AS id, event_id::text AS event_id, type, status, attempts, last_status_code, last_error, next_attempt_at, delivered_at, created_at,
            ((extract(epoch FROM created_at) * 1000000)::bigint)::text AS created_us
       FROM webhook_deliveries
      WHERE business_id = $1
        AND ($2::text[] IS NULL OR status = ANY ($2))
        AND ($3::bigint IS NULL OR (created_at, id) < ('epoch'::timestamptz + $3::bigint * interval '1 microsecond', $4::bigint))
      ORDER BY created_at DESC, id DESC
      LIMIT $5`,
    [businessId, page.statuses, page.before?.createdUs ?? null, page.before?.id ?? null, page.limit],
  );
  return r.rows;
}

/** A delivery claimed for one attempt, with what its request is built from. */
export interface ClaimedDeliveryRow {
  id: string;
  event_id: string;
  /** The attempt this claim is (1 = first): finishing is fenced on it. */
  attempts: number;
  type: string;
  run_id: string | null;
  call_id: string | null;
  data: Record<string, unknown>;
  event_created_at: Date;
  /** null: the webhook was removed after the claim's row was written. */
  url: string | null;
  secret: string | null;
  /** The secret before a rotation, while it still signs. */
  previous_secret: string | null;
  lead: { id: string; phone: string; name: string | null; variables: Record<string, unknown> | null } | null;
}

/**
 * Claims up to `limit` due deliveries for one attempt each: a lease of `leaseSeconds` (a crashed
 * dispatcher's lease expires and the row is due again) and the attempt counted now, so a crash
 * mid-attempt still uses one. SKIP LOCKED: dispatchers of several processes never wait on each other.
 */
export async function claimDueDeliveries(db: Executor, limit: number, leaseSeconds: number): Promise<ClaimedDeliveryRow[]> {
  const r = await db.query<ClaimedDeliveryRow>(
    `WITH due AS (
       SELECT id FROM webhook_deliveries
        WHERE status = 'pending' AND next_attempt_at <= now() AND (locked_until IS NULL OR locked_until <= now())
        ORDER BY next_attempt_at
        LIMIT $1
        FOR UPDATE SKIP LOCKED
     ), claimed AS (
       UPDATE webhook_deliveries d SET attempts = d.attempts + 1, locked_until = now() + make_interval(secs => $2)
         FROM due WHERE d.id = due.id
       RETURNING d.id, d.event_id, d.business_id, d.attempts
     )
     SELECT c.id::text AS id, c.event_id::text AS event_id, c.attempts, e.type, e.run_id, e.call_id, e.data,
            e.created_at AS event_created_at, w.url, w.secret,
            CASE WHEN w.previous_secret_expires_at > now() THEN w.previous_secret END AS previous_secret,
            CASE WHEN l.id IS NULL THEN NULL
                 ELSE jsonb_build_object('id', l.id, 'phone', l.phone, 'name', l.name, 'variables', l.variables) END AS lead
       FROM claimed c
       JOIN events e ON e.id = c.event_id
       LEFT JOIN webhook_endpoints w ON w.business_id = c.business_id
       LEFT JOIN leads l ON l.id = (e.data->>'leadId')::uuid
      ORDER BY c.id`,
    [limit, leaseSeconds],
  );
  return r.rows;
}

/**
 * Records an attempt's result: delivered, failed for good, or due again in `retryInSeconds`. Fenced on
 * the attempt number, so an attempt whose lease expired (and was claimed again) cannot overwrite the next.
 */
export async function finishDeliveryAttempt(
  db: Executor,
  delivery: { id: string; attempts: number },
  result: { status: WebhookDeliveryStatus; statusCode: number | null; error: string | null; retryInSeconds: number | null },
): Promise<void> {
  await db.query(
    `UPDATE webhook_deliveries
        SET status = $3, last_status_code = $4, last_error = $5, locked_until = NULL,
            delivered_at = CASE WHEN $3 = 'delivered' THEN now() END,
            next_attempt_at = CASE WHEN $6::float8 IS NULL THEN next_attempt_at ELSE now() + make_interval(secs => $6::float8) END
      WHERE id = $1 AND attempts = $2 AND status = 'pending'`,
    [delivery.id, delivery.attempts, result.status, result.statusCode, result.error, result.retryInSeconds],
  );
}

/**
 * Milliseconds until the next pending delivery falls due (its retry time, or a lease's end), by the
 * database's clock (the one due times are written in); null: none pending.
 */
export async function msUntilNextDelivery(db: Executor): Promise<number | null> {
  const r = await db.query<{ ms: number | null }>(
    `SELECT (extract(epoch FROM LEAST(
       (SELECT min(next_attempt_at) FROM webhook_deliveries WHERE status = 'pending' AND locked_until IS NULL),
       (SELECT min(locked_until) FROM webhook_deliveries WHERE status = 'pending' AND locked_until IS NOT NULL)) - now()) * 1000)::float8 AS ms`,
  );
  return r.rows[0]?.ms ?? null;
}
