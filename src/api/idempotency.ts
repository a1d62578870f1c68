import type { Request, Response } from 'express';
import { requestFingerprint, type IdempotencyKey } from '../domain/idempotency';
import { principalOf } from './auth';
import { parseIdempotencyHeader } from './validation';

/**
 * The request's `Idempotency-Key`, scoped to the caller's key and bound to this route and body (or
 * what stands for a body that was streamed rather than parsed, such as a CSV's hash).
 */
export function idempotencyOf(req: Request, res: Response, body: unknown = req.body): IdempotencyKey | undefined {
  const key = parseIdempotencyHeader(req.get('idempotency-key'));
  if (key === undefined) return undefined;
  return { principal: principalOf(res), key, requestHash: requestFingerprint(`${req.method} ${req.path}`, body ?? null) };
}
