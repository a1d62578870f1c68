import type { ErrorRequestHandler, RequestHandler } from 'express';
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

export const notFound = (what: string, id: string) => new HttpError(404, 'not_found', `${what} ${id} does not exist`);

export const unknownRoute: RequestHandler = (req, _res, next) => {
  next(new HttpError(404, 'route_not_found', `no route for ${req.method} ${req.path}`));
};

/** The last middleware: known errors keep their status; anything else is a 500 without a stack trace. */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    if (err instanceof HttpError) {
      res.set(err.headers).status(err.status).json({ error: { code: err.code, message: err.message, ...(err.details ? { details: err.details } : {}) } });
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
