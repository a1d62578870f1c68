import { Webhook } from 'standardwebhooks';
import type { WebhookSettings } from '../config';
import { createDatabase } from '../db/client';
import { listen } from '../db/listen';
import { claimDueDeliveries, finishDeliveryAttempt, msUntilNextDelivery, WEBHOOKS_CHANNEL, type ClaimedDeliveryRow } from '../db/queries/webhooks';
import type { WebhookDeliveryStatus } from '../db/schema';
import { runCounts } from '../domain/runs/run-view';
import { webhookBody, webhookMessageId, type RunCounts } from '../domain/webhooks/payload';
import type { Logger } from '../logger';
import { postWebhook } from './post';

/**
 * Delivers the webhook outbox (`webhook_deliveries`) at least once. Runs in each worker process on
 * a pool of its own, so a slow or dead receiver never holds a connection the dialing path needs;
 * several processes share the work through SKIP LOCKED claims with a lease.
 */

export type WebhookAttemptResult = 'delivered' | 'retrying' | 'failed';

export interface WebhookDispatcherDeps {
  databaseUrl: string;
  settings: WebhookSettings;
  logger: Logger;
  /** Called after each attempt is recorded (the deliveries metric hangs here). */
  onAttempt?: (attempt: { result: WebhookAttemptResult; eventId: string; type: string; statusCode: number | null }) => void;
}

export interface WebhookDispatcher {
  /** Resolves once the dispatcher listens for new deliveries. */
  ready: Promise<void>;
  /** Claims nothing more, waits for the attempts in flight (each bounded by the timeout), closes its connections. */
  stop(): Promise<void>;
}

/** Connections of the dispatcher's own pool: claims and result writes are short. */
const POOL_SIZE = 2;
/** A claim's lease beyond the request timeout: time to write the result. A crashed worker's attempts are due again after it. */
const LEASE_MARGIN_SECONDS = 5;
/** The longest sleep without a notification: a safety net (notifications sent while the listener reconnects are re-read anyway). */
const MAX_IDLE_MS = 30_000;
/** After a database error, the next try. */
const ERROR_BACKOFF_MS = 1_000;
/** Each retry waits this many times the one before, up to the configured longest wait. */
const RETRY_FACTOR = 5;
const MAX_ERROR_LENGTH = 500;

/** The wait after failed attempt number `attempt` (1 = first): exponential, capped, with ±20% jitter so retries spread out. */
export function retryDelaySeconds(settings: Pick<WebhookSettings, 'retryBaseSeconds' | 'retryMaxSeconds'>, attempt: number): number {
  const base = Math.min(settings.retryBaseSeconds * RETRY_FACTOR ** (attempt - 1), settings.retryMaxSeconds);
  return base * (0.8 + 0.4 * Math.random());
}

/** Why a request failed, as the deliveries list shows it. */
function describeFailure(err: unknown, timeoutMs: number): string {
  const e = err as { name?: string; message?: string };
  if (e.name === 'TimeoutError' || e.name === 'AbortError') return `no answer within ${timeoutMs} ms`;
  return (e.message || String(err)).slice(0, MAX_ERROR_LENGTH);
}

/** One attempt: the signed POST, and what came of it (2xx = delivered; a redirect is not followed and counts as a failure). */
async function send(
  row: ClaimedDeliveryRow & { url: string; secret: string },
  runCounts: RunCounts | null,
  settings: WebhookSettings,
): Promise<{ ok: boolean; statusCode: number | null; error: string | null }> {
  const body = JSON.stringify(webhookBody(row, runCounts));
  const id = webhookMessageId(row.event_id);
  const at = new Date();
  const headers = {
    'content-type': 'application/json',
    'user-agent': 'Outdial-Webhooks/1',
    'webhook-id': id,
    'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
    // During a rotation's overlap, one signature per secret (space-separated): either verifies.
    'webhook-signature': [row.secret, row.previous_secret]
      .filter((secret): secret is string => secret !== null)
      .map((secret) => new Webhook(secret).sign(id, at, body))
      .join(' '),
  };
  try {
    const statusCode = await postWebhook(row.url, headers, body, settings);
    const ok = statusCode >= 200 && statusCode < 300;
    return { ok, statusCode, error: ok ? null : `the receiver answered HTTP ${statusCode}` };
  } catch (err) {
    return { ok: false, statusCode: null, error: describeFailure(err, settings.timeoutMs) };
  }
}

export function startWebhookDispatcher(deps: WebhookDispatcherDeps): WebhookDispatcher {
  const { settings, logger } = deps;
  const database = createDatabase(deps.databaseUrl, { max: POOL_SIZE });
  const leaseSeconds = Math.ceil(settings.timeoutMs / 1000) + LEASE_MARGIN_SECONDS;
  const inFlight = new Set<Promise<void>>();
  let stopping = false;
  let pumping: Promise<void> | null = null;
  let again = false;
  let timer: NodeJS.Timeout | null = null;

  const sleep = (ms: number) => {
    if (timer) clearTimeout(timer);
    if (stopping) return;
    timer = setTimeout(wake, Math.min(Math.max(ms, 50), MAX_IDLE_MS));
  };

  /** A run event's counts, as they are now. */
  const countsOf = async (row: ClaimedDeliveryRow): Promise<RunCounts | null> => {
    if (row.call_id || !row.run_id) return null;
    return runCounts(database.pool, row.run_id);
  };

  const attempt = async (row: ClaimedDeliveryRow): Promise<void> => {
    let counts: RunCounts | null;
    try {
      counts = await countsOf(row);
    } catch (err) {
      // Not sent: the lease runs out and the delivery is claimed again.
      logger.warn({ err: (err as Error).message, eventId: row.event_id }, 'webhooks: cannot read a run for its event; it will be retried');
      return;
    }
    const sent = row.url && row.secret ? await send({ ...row, url: row.url, secret: row.secret }, counts, settings) : null;
    const outcome: { status: WebhookDeliveryStatus; result: WebhookAttemptResult; retryInSeconds: number | null } = sent?.ok
      ? { status: 'delivered', result: 'delivered', retryInSeconds: null }
      : sent && row.attempts < settings.maxAttempts
        ? { status: 'pending', result: 'retrying', retryInSeconds: retryDelaySeconds(settings, row.attempts) }
        : { status: 'failed', result: 'failed', retryInSeconds: null };
    const error = sent ? sent.error : 'the webhook was removed';
    try {
      await finishDeliveryAttempt(database.pool, row, { status: outcome.status, statusCode: sent?.statusCode ?? null, error, retryInSeconds: outcome.retryInSeconds });
    } catch (err) {
      // The lease runs out and the delivery is attempted again: at least once, never lost.
      logger.warn({ err: (err as Error).message, eventId: row.event_id }, 'webhooks: could not record an attempt; it will be retried');
    }
    if (outcome.result === 'failed') logger.warn({ eventId: row.event_id, attempts: row.attempts, error }, 'webhooks: delivery failed for good');
    deps.onAttempt?.({ result: outcome.result, eventId: webhookMessageId(row.event_id), type: row.type, statusCode: sent?.statusCode ?? null });
  };

  /** Claims while there is room and work, starts each attempt, then sleeps until the next due time. */
  const pump = async (): Promise<void> => {
    try {
      while (!stopping && inFlight.size < settings.concurrency) {
        const rows = await claimDueDeliveries(database.pool, settings.concurrency - inFlight.size, leaseSeconds);
        for (const row of rows) {
          const running: Promise<void> = attempt(row)
            .catch((err: unknown) => logger.error({ err, eventId: row.event_id }, 'webhooks: an attempt failed unexpectedly; its lease will run out and it will be retried'))
            .finally(() => {
              inFlight.delete(running);
              wake();
            });
          inFlight.add(running);
        }
        if (rows.length === 0) break;
      }
      if (inFlight.size < settings.concurrency) sleep((await msUntilNextDelivery(database.pool)) ?? MAX_IDLE_MS);
    } catch (err) {
      logger.warn({ err: (err as Error).message }, 'webhooks: cannot read the outbox; retrying');
      sleep(ERROR_BACKOFF_MS);
    }
  };

  /** Runs one pump at a time; a wake-up during one runs another right after it. */
  function wake(): void {
    if (stopping) return;
    if (pumping) {
      again = true;
      return;
    }
    pumping = pump().finally(() => {
      pumping = null;
      if (again) {
        again = false;
        wake();
      }
    });
  }

  const listener = listen(deps.databaseUrl, WEBHOOKS_CHANNEL, { onNotify: wake, onReconnect: wake }, logger);
  const ready = listener.ready.then(wake);
  wake();

  return {
    ready,
    async stop() {
      stopping = true;
      if (timer) clearTimeout(timer);
      await pumping;
      await Promise.allSettled([...inFlight]);
      await listener.close();
      await database.close();
    },
  };
}
