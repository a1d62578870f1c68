import type { Response } from 'express';
import { TwilioApiError } from './errors';
import { newSid } from './sids';

export function sendJson(res: Response, status: number, body: unknown): void {
  res
    .status(status)
    .set('Content-Type', 'application/json; charset=utf-8')
    .set('Twilio-Request-Id', newSid('RQ'))
    .send(JSON.stringify(body));
}

export function sendTwilioError(res: Response, err: TwilioApiError): void {
  res.locals.errorCode = err.code;
  if (err.status === 401) res.set('WWW-Authenticate', 'Basic realm="Twilio API"');
  if (err.status === 429) res.set('Twilio-Concurrent-Requests', '1');
  sendJson(res, err.status, err.toBody());
}

/** Loopback peers only: the admin API needs no credentials, so it must not be reachable from elsewhere. */
export function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  return address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.');
}

export function asTwilioError(err: unknown): TwilioApiError | null {
  if (err instanceof TwilioApiError) return err;
  // body-parser errors (malformed or oversized bodies) carry an HTTP status of their own.
  const status = (err as { status?: unknown } | null)?.status;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return new TwilioApiError(status, 20001, (err as Error).message || 'Invalid request');
  }
  return null;
}
