import type { Request, RequestHandler } from 'express';
import { httpRequestDuration, statusClass } from './registry';

/** Methods Outdial serves; anything else is counted as `other`, so a client cannot mint label values. */
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/** The label of a request no route handled (unknown paths, and requests refused before routing: auth, body checks). */
export const UNMATCHED_ROUTE = 'unmatched';

/** The matched route's pattern (`/v1/runs/:runId`), never the raw path: ids stay out of the labels. */
function routeOf(req: Request): string {
  const route = (req as Request & { route?: { path?: unknown } }).route;
  return route?.path === undefined ? UNMATCHED_ROUTE : `${req.baseUrl}${String(route.path)}`;
}

/** Times every API request, labelled when it ends; `aborted` when the client left before the answer was sent. */
export const recordHttpMetrics: RequestHandler = (req, res, next) => {
  const end = httpRequestDuration.startTimer();
  res.once('close', () => {
    end({
      method: METHODS.has(req.method) ? req.method : 'other',
      route: routeOf(req),
      status_class: res.writableFinished ? statusClass(res.statusCode) : 'aborted',
    });
  });
  next();
};
