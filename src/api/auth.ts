import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import type { Database } from '../db/client';
import { adminKeyHashes, authenticate, mayAccessBusiness, type Principal } from '../domain/principal';
import { HttpError, notFound } from './errors';

/**
 * Every /v1 route but the carrier's status callback needs `Authorization: Bearer <key>`: an admin
 * key from configuration or a business's API key. The principal is kept on `res.locals`.
 */
export function requireKey(deps: { database: Database; config: { adminKeys: string[] } }): RequestHandler {
  const adminHashes = adminKeyHashes(deps.config.adminKeys);
  return (req, res, next) => {
    const header = req.get('authorization');
    const match = header ? /^Bearer[ \t]+(\S{1,512})[ \t]*$/i.exec(header) : null;
    const unauthorized = (why: string) => new HttpError(401, 'unauthorized', why, undefined, { 'WWW-Authenticate': 'Bearer realm="outdial"' });
    if (!match) {
      next(unauthorized('send an API key: Authorization: Bearer <key>'));
      return;
    }
    authenticate(deps.database, adminHashes, match[1]!).then(
      (principal) => {
        if (!principal) return next(unauthorized('the API key is not valid (unknown or revoked)'));
        res.locals.principal = principal;
        next();
      },
      (err: unknown) => next(err),
    );
  };
}

export function principalOf(res: Response): Principal {
  const principal = res.locals.principal as Principal | undefined;
  if (!principal) throw new HttpError(401, 'unauthorized', 'send an API key: Authorization: Bearer <key>');
  return principal;
}

/** Admin keys only: creating and changing businesses, minting their keys. */
export function requireAdmin(res: Response): Principal {
  const principal = principalOf(res);
  if (principal.kind !== 'admin') throw new HttpError(403, 'forbidden', 'this route needs an admin key');
  return principal;
}

/** The caller may act on this business, or it "does not exist" (404, exactly as for an unknown ID). */
export function authorizeBusiness(res: Response, businessId: string, what = 'business', id = businessId): Principal {
  const principal = principalOf(res);
  if (!mayAccessBusiness(principal, businessId)) throw notFound(what, id);
  return principal;
}

/** A fixed budget of requests per key per minute, per API process; over it, 429 with Retry-After. */
export function rateLimitPerKey(requestsPerMinute: number): RequestHandler {
  if (requestsPerMinute <= 0) return (_req, _res, next) => next();
  const limiter = new RateLimiterMemory({ points: requestsPerMinute, duration: 60 });
  return (_req: Request, res: Response, next: NextFunction) => {
    const principal = principalOf(res);
    limiter.consume(principal.id).then(
      () => next(),
      (rejected: unknown) => {
        if (!(rejected instanceof RateLimiterRes)) return next(rejected);
        const retryAfter = Math.max(1, Math.ceil(rejected.msBeforeNext / 1000));
        next(
          new HttpError(429, 'rate_limited', `this API key made more than ${requestsPerMinute} requests in a minute; retry after ${retryAfter} s`, undefined, {
            'Retry-After': String(retryAfter),
          }),
        );
      },
    );
  };
}
