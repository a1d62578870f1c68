import express, { Router } from 'express';
import twilio from 'twilio';
import { z } from 'zod';
import { applyAnsweredBy } from '../../calls/answered-by';
import { applyCallStatus, SignedForAnotherUrl } from '../../calls/apply-status';
import { endedCallWake } from '../../calls/wake-runs';
import { AMD_CALLBACK_PATH, STATUS_CALLBACK_PATH } from '../../calls/status-callback-url';
import { callbackUrlsOf } from '../../db/queries/calls';
import { ANSWERED_BY_VALUES, CALL_STATUSES } from '../../db/statuses';
import { statusCallbacks } from '../../metrics/registry';
import { resolvePublicHost } from '../../public-host';
import type { ApiDeps } from '../app';
import { createCallbackReplay } from '../callback-replay';
import { HttpError, isOutage } from '../errors';
import { storableText } from '../validation';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A non-negative whole number that fits the integer columns it is stored in. */
const optionalInt = z.preprocess((v) => (v === undefined || v === '' ? undefined : v), z.coerce.number().int().min(0).max(2_147_483_647).optional());

const callSid = z.string().regex(/^CA[0-9a-fA-F]{32}$/, 'must be a call SID');
const answeredBy = z.enum(ANSWERED_BY_VALUES);

export const callbackParams = z.object({
  CallSid: callSid,
  AnsweredBy: answeredBy.optional(),
  CallStatus: z.enum(CALL_STATUSES.filter((s) => s !== 'reserved') as [string, ...string[]]),
  SequenceNumber: optionalInt,
  CallDuration: optionalInt,
  ErrorCode: optionalInt,
  ErrorMessage: storableText.max(2000).optional(),
});

/** Async AMD's result (Twilio also sends MachineDetectionDuration, which nothing here needs). */
export const amdParams = z.object({ CallSid: callSid, AnsweredBy: answeredBy });

/** What a callback request carries, kept to handle it again after an outage. */
interface CallbackRequest {
  signature: string | undefined;
  callIdParam: unknown;
  originalUrl: string;
  body: Record<string, string>;
}

/** Outdial's call ID from the callback URL (anything else is no call ID). */
const callIdOf = (req: CallbackRequest): string | undefined => (typeof req.callIdParam === 'string' && UUID.test(req.callIdParam) ? req.callIdParam : undefined);

/** A form body's fields (Twilio never repeats one), parsed natively: body-parser's urlencoded runs qs on every callback. */
function formFields(body: unknown): Record<string, string> {
  return typeof body === 'string' ? Object.fromEntries(new URLSearchParams(body)) : {};
}

const callbackRequest = (req: express.Request): CallbackRequest => ({
  signature: req.header('X-Twilio-Signature'),
  // Read from the URL itself: `req.query` runs the extended (qs) parser on every callback.
  callIdParam: new URLSearchParams(req.originalUrl.split('?')[1] ?? '').get('callId') ?? undefined,
  originalUrl: req.originalUrl,
  body: formFields(req.body),
});

/**
 * Twilio's status and async-AMD callbacks. Signature first (verified against the URL the carrier
 * was given, never the Host header a proxy may rewrite; for a status, in the statement that applies
 * it when it is the public URL), then the status goes to Postgres, then the runs that can use a
 * freed slot are woken (src/calls/wake-runs.ts).
 */
export function twilioStatusRoutes(deps: ApiDeps) {
  const { database, config, logger, wakeRuns } = deps;
  /**
   * Twilio signs the exact callback URL it was given, which is stored on the call: that stays right
   * if PUBLIC_HOST changes mid-call or a proxy rewrites the path. A request for no known call is
   * checked against this API's public URL (and then finds no call).
   */
  async function urlTheCarrierWasGiven(callId: string | undefined, kind: 'status' | 'amd', originalUrl: string): Promise<string> {
    if (callId) {
      const urls = await callbackUrlsOf(database.pool, callId);
      const url = kind === 'status' ? urls?.status_callback_url : urls?.amd_callback_url;
      if (url) return url;
    }
    const host = resolvePublicHost(config);
    // Fail closed: without the public URL no signature can be checked.
    if (!host.ok) throw new HttpError(503, 'no_public_host', `${host.error}: cannot verify callback signatures`);
    return host.baseUrl + originalUrl;
  }

  function signatureMatches(signature: string, url: string, params: Record<string, string>): boolean {
    try {
      return twilio.validateRequest(config.twilio.authToken, signature, url, params);
    } catch {
      // Parameters the validator cannot even read (odd shapes) are not a valid signature either.
      return false;
    }
  }

  /** The request's call ID and parameters, once its X-Twilio-Signature is verified (400/403 otherwise). */
  async function verified<T extends z.ZodType>(req: CallbackRequest, kind: 'status' | 'amd', schema: T): Promise<{ callId: string | undefined; params: z.output<T> }> {
    const { signature } = req;
    if (!signature) throw new HttpError(400, 'missing_signature', 'X-Twilio-Signature header is required');
    const callId = callIdOf(req);
    const signedUrl = await urlTheCarrierWasGiven(callId, kind, req.originalUrl);
    const params = req.body;
    if (!signatureMatches(signature, signedUrl, params)) {
      throw new HttpError(403, 'invalid_signature', 'X-Twilio-Signature does not match this request');
    }
    const parsed = schema.safeParse(params);
    if (!parsed.success) {
      throw new HttpError(400, 'invalid_callback', parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
    }
    return { callId, params: parsed.data };
  }

  /**
   * A status callback for a call, signed for this API's public URL, read without its stored URL (a
   * round trip per callback): the status statement applies it only if that is the URL the call was
   * given (`signedFor`). Null when it is not that case (no call ID, no public URL, a signature or
   * body that does not pass, AMD's verdict to keep first): the full check decides, as it always did.
   */
  function signedForPublicUrl(req: CallbackRequest, callId: string | undefined): { url: string; params: z.output<typeof callbackParams> } | null {
    const host = resolvePublicHost(config);
    if (!req.signature || !callId || !host.ok) return null;
    const url = host.baseUrl + req.originalUrl;
    if (!signatureMatches(req.signature, url, req.body)) return null;
    const parsed = callbackParams.safeParse(req.body);
    return parsed.success && !parsed.data.AnsweredBy ? { url, params: parsed.data } : null;
  }

  async function handleStatus(req: CallbackRequest): Promise<void> {
    const callId = callIdOf(req);
    const quick = signedForPublicUrl(req, callId);
    if (quick) {
      try {
        return await settleStatus(callId, quick.params, quick.url);
      } catch (err) {
        // The call was given another URL (PUBLIC_HOST changed since): nothing was written; check against it.
        if (!(err instanceof SignedForAnotherUrl)) throw err;
      }
    }
    const { params } = await verified(req, 'status', callbackParams);
    await settleStatus(callId, params);
  }

  async function settleStatus(callId: string | undefined, p: z.output<typeof callbackParams>, signedFor?: string): Promise<void> {
    // Sync AMD's verdict rides on the status callbacks: keep it (and act on it) before the status.
    if (p.AnsweredBy) await applyAnsweredBy(deps, { ...(callId ? { callId } : {}), callSid: p.CallSid }, p.AnsweredBy);
    const applied = await applyCallStatus(database, {
      ...(callId ? { callId } : {}),
      ...(signedFor ? { signedFor } : {}),
      callSid: p.CallSid,
      status: p.CallStatus as (typeof CALL_STATUSES)[number],
      sequenceNumber: p.SequenceNumber ?? null,
      durationSeconds: p.CallDuration ?? null,
      errorCode: p.ErrorCode ?? null,
      errorMessage: p.ErrorMessage ?? null,
    });
    statusCallbacks.inc({ result: applied.result });
    if (applied.result === 'not-found' || applied.result === 'sid-mismatch') {
      logger.warn({ callId, callSid: p.CallSid, result: applied.result }, 'status callback for an unknown call');
      throw new HttpError(404, 'unknown_call', `no call matches callId ${callId ?? '(none)'} and CallSid ${p.CallSid}`);
    }
    if (applied.result === 'applied' && applied.freedSlot) {
      logger.debug(
        { callId: applied.callId, callSid: p.CallSid, status: applied.status, runId: applied.runId, durationSeconds: p.CallDuration },
        `call completed: ${applied.status}`,
      );
      // Not awaited: the status is stored, so the carrier is answered now; the wake-up is a hint
      // (retried when Temporal does not answer, and the run's own timer covers it).
      void wakeRuns(applied.businessId, endedCallWake(applied)).catch((err: unknown) =>
        logger.warn({ businessId: applied.businessId, err: (err as Error).message }, 'wake-up after a call ended failed; the run wakes on its own timer'),
      );
    }
  }

  /** Async AMD's result: kept on the call; a machine on a `hangup` call is ended at once. */
  async function handleAmd(req: CallbackRequest): Promise<void> {
    const { callId, params: p } = await verified(req, 'amd', amdParams);
    await applyAnsweredBy(deps, { ...(callId ? { callId } : {}), callSid: p.CallSid }, p.AnsweredBy);
  }

  // Answered 503 during an outage (Twilio will not retry), and handled again by this process once it is over.
  const replay = createCallbackReplay({ max: config.callbackReplayMax, logger });
  const router = Router();
  for (const [path, handle] of [
    [STATUS_CALLBACK_PATH, handleStatus],
    [AMD_CALLBACK_PATH, handleAmd],
  ] as const) {
    router.post(path, express.text({ type: 'application/x-www-form-urlencoded' }), async (req, res) => {
      const request = callbackRequest(req);
      try {
        await handle(request);
      } catch (err) {
        if (isOutage(err)) replay.defer(() => handle(request));
        throw err;
      }
      res.status(204).end();
    });
  }
  return router;
}
