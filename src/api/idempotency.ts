import type { Request, Response } from 'express';
import { requestFingerprint, type IdempotencyKey } from '../domain/idempotency';
import { principalOf } from './auth';
import { parseIdempotencyHeader } from './validation';

/**
 * The request's `Idempotency-Key`, scoped to the caller's key and bound to this route and body (or
 * what stands for a body that was streamed rather than parsed, such as a CSV's hash).
 */
export function idempotencyOf(req: Request, res: Response, body: unknown = req.body): IdempotencyKey | undefined {
  return deferredIdempotencyOf(req, res, () => body)?.();
}

/** The same, the header checked now but the body fingerprinted when asked: a streamed body's hash is known only at its end. */
export function deferredIdempotencyOf(req: Request, res: Response, body: () => unknown): (() => IdempotencyKey) | undefined {
  const key = parseIdempotencyHeader(req.get('idempotency-key'));
  if (key === undefined) return undefined;
  const principal = principalOf(res);
  const route = `${req.method} ${req.path}`;
  return () => ({ principal, key, requestHash: requestFingerprint(route, body() ?? null) });
}
