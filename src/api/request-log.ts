import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RequestHandler } from 'express';
import type { LevelWithSilent } from 'pino';
import { AMD_CALLBACK_PATH, STATUS_CALLBACK_PATH } from '../calls/status-callback-url';
import type { Logger } from '../logger';

/** The carrier's callbacks: a few per call, so an answered one is not worth an info line each (a call's end has its own). */
export const CALLBACK_PATHS: readonly string[] = [STATUS_CALLBACK_PATH, AMD_CALLBACK_PATH];
const CALLBACK_PATH_SET: ReadonlySet<string> = new Set(CALLBACK_PATHS);

/**
 * The level of the request log line (pino-http): errors and 5xx `error`, a carrier callback
 * answered 2xx `debug` (LOG_LEVEL=debug shows them), everything else `info`.
 */
export function requestLogLevel(req: IncomingMessage, res: ServerResponse, err?: Error): LevelWithSilent {
  if (err || res.statusCode >= 500) return 'error';
  // Express's original URL: routers rewrite `url` while they run.
  const url = (req as IncomingMessage & { originalUrl?: string }).originalUrl ?? req.url ?? '';
  if (res.statusCode >= 200 && res.statusCode < 300 && CALLBACK_PATH_SET.has(url.split('?', 1)[0]!)) return 'debug';
  return 'info';
}

/**
 * The request log line of the carrier's callbacks, at the same levels, without pino-http: its child
 * logger per request serialized every request's headers (and parsed its query) even when the line
 * was not written, a tenth of the API's time per callback. No headers are logged: they hold the signature.
 */
export function callbackRequestLog(logger: Logger): RequestHandler {
  return (req, res, next) => {
    const started = performance.now();
    res.once('finish', () => {
      const level = requestLogLevel(req, res);
      if (level === 'silent' || !logger.isLevelEnabled(level)) return;
      logger[level]({ req: { method: req.method, url: req.originalUrl }, res: { statusCode: res.statusCode }, responseTime: Math.round(performance.now() - started) }, 'request completed');
    });
    next();
  };
}
