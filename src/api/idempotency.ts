import type { Request, Response } from 'express';
import { requestFingerprint, type IdempotencyKey } from '../domain/idempotency';
import { principalOf } from './auth';
import { parseIdempotencyHeader } from './validation';

/** The request's `Idempotency-Key`, scoped to the caller's key and bound to this route and body. */
export function idempotencyOf(req: Request, res: Response): IdempotencyKey | undefined {
  const key = parseIdempotencyHeader(req.get('idempotency-key'));
  if (key === undefined) return undefined;
  return { principal: principalOf(res), key, requestHash: requestFingerprint(`${req.method} ${req.path}`, req.body ?? null) };
}
