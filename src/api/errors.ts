import type { ErrorRequestHandler, RequestHandler } from 'express';
import { IdempotencyKeyReused } from '../domain/idempotency';
import type { Logger } from '../logger';

/** An error the API answers with `{ error: { code, message, details? } }` and its HTTP status. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** Also the answer for what exists but belongs to another business: a key cannot learn what it may not see. */
export const notFound = (what: string, id: string) => new HttpError(404, 'not_found', `${what} ${id} does not exist`);

export const unknownRoute: RequestHandler = (req, _res, next) => {
  next(new HttpError(404, 'route_not_found', `no route for ${req.method} ${req.path}`));
};

/** Postgres refused a value (SQLSTATE class 22: data exception; 23514: a CHECK constraint): bad input, not our failure. */
function isBadValueError(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'string' && /^(22[0-9A-Z]{3}|23514)$/.test(code);
}

/** Node's codes for a server that cannot be reached (Postgres down or restarting). */
const UNREACHABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'ETIMEDOUT', 'EAI_AGAIN', 'EPIPE']);

/**
 * Postgres or Temporal is unreachable for now: a connection refused or cut, Postgres shutting down
 * or starting (SQLSTATE 08xxx connection exceptions, 57P01-57P03, 53300 too many connections), or
 * Temporal's gRPC UNAVAILABLE. The request may be retried; it is not our bug and not the caller's.
 */
export function isOutage(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown; name?: unknown; cause?: { code?: unknown } } | null;
  if (!e) return false;
  if (typeof e.code === 'string' && (UNREACHABLE.has(e.code) || /^(08[0-9A-Z]{3}|57P0[123]|53300)$/.test(e.code))) return true;
  if (typeof e.message === 'string' && /Connection terminated|timeout exceeded when trying to connect/.test(e.message)) return true;
  // @temporalio/client's ServiceError wraps the gRPC status: 14 = UNAVAILABLE.
  return e.name === 'ServiceError' && e.cause?.code === 14;
}

/** Seconds a client should wait before retrying after an outage. */
const OUTAGE_RETRY_AFTER_SECONDS = 5;

/** The last middleware: known errors keep their status; anything else is a 500 without a stack trace. */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    if (err instanceof HttpError) {
      res.set(err.headers).status(err.status).json({ error: { code: err.code, message: err.message, ...(err.details ? { details: err.details } : {}) } });
      return;
    }
    if (err instanceof IdempotencyKeyReused) {
      res.status(422).json({ error: { code: 'idempotency_key_reused', message: `${err.message}; use a new key for a new request` } });
      return;
    }
    if (isBadValueError(err)) {
      logger.warn({ method: req.method, path: req.path, sqlState: (err as { code: string }).code }, 'a value Postgres cannot store reached a query');
      res.status(400).json({ error: { code: 'invalid_value', message: 'the request holds a value that cannot be stored' } });
      return;
    }
    if (isOutage(err)) {
      logger.warn({ method: req.method, path: req.path, err: (err as Error).message }, 'a server Outdial depends on is unreachable');
      res
        .set('Retry-After', String(OUTAGE_RETRY_AFTER_SECONDS))
        .status(503)
        .json({ error: { code: 'unavailable', message: 'Outdial cannot reach its database or Temporal right now; retry shortly' } });
      return;
    }
    const status = typeof err?.status === 'number' && err.status >= 400 && err.status < 500 ? err.status : 500;
    if (status < 500) {
      // body-parser's own errors: malformed JSON, payload too large, unsupported charset.
      const code = err.type === 'entity.parse.failed' ? 'malformed_json' : String(err.type ?? 'bad_request').replace(/\./g, '_');
      res.status(status).json({ error: { code, message: err.expose && err.message ? String(err.message) : 'bad request' } });
      return;
    }
    logger.error({ err, method: req.method, path: req.path }, 'unhandled API error');
    res.status(500).json({ error: { code: 'internal', message: 'internal error' } });
  };
}
