import type { IncomingMessage, ServerResponse } from 'node:http';
import type { LevelWithSilent } from 'pino';
import { AMD_CALLBACK_PATH, STATUS_CALLBACK_PATH } from '../calls/status-callback-url';

/** The carrier's callbacks: a few per call, so an answered one is not worth an info line each (a call's end has its own). */
const CALLBACK_PATHS: ReadonlySet<string> = new Set([STATUS_CALLBACK_PATH, AMD_CALLBACK_PATH]);

/**
 * The level of the request log line (pino-http): errors and 5xx `error`, a carrier callback
 * answered 2xx `debug` (LOG_LEVEL=debug shows them), everything else `info`.
 */
export function requestLogLevel(req: IncomingMessage, res: ServerResponse, err?: Error): LevelWithSilent {
  if (err || res.statusCode >= 500) return 'error';
  // Express's original URL: routers rewrite `url` while they run.
  const url = (req as IncomingMessage & { originalUrl?: string }).originalUrl ?? req.url ?? '';
  if (res.statusCode >= 200 && res.statusCode < 300 && CALLBACK_PATHS.has(url.split('?', 1)[0]!)) return 'debug';
  return 'info';
}
