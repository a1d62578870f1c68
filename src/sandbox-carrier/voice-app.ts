import { randomUUID } from 'node:crypto';
import type pino from 'pino';
import type { CallRecord } from './call-record';
import { voiceParams } from './callback-params';
import { sharedAbortController, type HttpSender, type SendResult } from './http-sender';
import type { Instrumentation } from './instrumentation';
import { parseOverrides } from './overrides';
import { buildCallbackRequest, splitFragment, webhookHeaders, type CallbackRequest } from './signing';
import { hangsUp, parseTwiml } from './twiml';
import type { VoiceAction, VoiceRequestResult } from './types';
import type { ChangeSignal } from './waiters';

/** Twilio waits 15 s for a voice URL's answer. */
export const DEFAULT_VOICE_URL_TIMEOUT_MS = 15_000;
/** Twilio refuses TwiML documents over 64 KB. */
const MAX_TWIML_BYTES = 64 * 1024;
const RECORDED_BODY_CHARS = 4096;

/** Twilio's "HTTP retrieval failure" and "Document parse failure". */
export const RETRIEVAL_FAILURE = 11200;
export const PARSE_FAILURE = 12100;

/**
 * What the call does next: run its script, hang up at once, end after the "application error"
 * message (Twilio's behaviour when the voice app cannot be used), or nothing (the carrier was reset).
 */
export type VoiceVerdict = { kind: 'continue' } | { kind: 'hangup' } | { kind: 'application-error'; errorCode: number } | { kind: 'aborted' };

/** The instructions the call gives as TwiML text (a fetched body or the request's inline Twiml). */
export function verdictOfTwiml(text: string): VoiceVerdict {
  const doc = parseTwiml(text);
  if (!doc.ok) return { kind: 'application-error', errorCode: PARSE_FAILURE };
  return hangsUp(doc.verbs) ? { kind: 'hangup' } : { kind: 'continue' };
}

interface Attempted {
  result: VoiceRequestResult;
  responseStatus: number | null;
  responseBody: string | null;
  errorCode: number | null;
  error: string | null;
  /** null when the attempt failed. */
  verdict: { kind: 'continue' } | { kind: 'hangup' } | null;
}

function assess(sent: Exclude<SendResult, { kind: 'aborted' }>): Attempted {
  if (sent.kind !== 'response') {
    return { result: sent.kind, responseStatus: null, responseBody: null, errorCode: RETRIEVAL_FAILURE, error: sent.error, verdict: null };
  }
  const body = sent.body ?? '';
  const base = { responseStatus: sent.status, responseBody: body.slice(0, RECORDED_BODY_CHARS) };
  if (sent.status < 200 || sent.status > 299) {
    return { ...base, result: 'response', errorCode: RETRIEVAL_FAILURE, error: `the voice URL answered HTTP ${sent.status}`, verdict: null };
  }
  if (sent.truncated) {
    return { ...base, result: 'invalid-twiml', errorCode: PARSE_FAILURE, error: `the document is larger than ${MAX_TWIML_BYTES} bytes`, verdict: null };
  }
  const doc = parseTwiml(body);
  if (!doc.ok) return { ...base, result: 'invalid-twiml', errorCode: PARSE_FAILURE, error: doc.error, verdict: null };
  return { ...base, result: 'response', errorCode: null, error: null, verdict: hangsUp(doc.verbs) ? { kind: 'hangup' } : { kind: 'continue' } };
}

interface AttemptSpec {
  source: 'url' | 'fallback';
  url: string;
  method: 'GET' | 'POST';
  params: Record<string, string>;
  authToken: string;
  signal: AbortSignal;
  live: () => boolean;
  /** A FallbackUrl follows if this attempt fails. */
  fallback: boolean;
}

/**
 * Requests a call's voice URL when it is answered, signed like a status callback, and decides from
 * the answer whether the call goes on. A failure tries the FallbackUrl once (with Twilio's
 * ErrorCode and ErrorUrl); there are no other retries.
 */
export class VoiceFetcher {
  private outstanding = 0;
  private abort = sharedAbortController();

  constructor(
    private readonly instrumentation: Instrumentation,
    private readonly signal: ChangeSignal,
    private readonly sender: HttpSender,
    private readonly timeoutMs: number,
    private readonly logger: pino.Logger,
  ) {}


  /** Voice requests in flight. */
  get pending(): number {
    return this.outstanding;
  }

  /** `live` says whether the call still wants the answer (it may have been hung up meanwhile). */
  async run(call: CallRecord, authToken: string, live: () => boolean): Promise<VoiceVerdict> {
    const { url, method, fallbackUrl, fallbackMethod } = call.request;
    if (!url) return { kind: 'continue' };
    const signal = this.abort.signal;
    this.outstanding++;
    try {
      const params = voiceParams(call);
      const first = await this.attempt(call, { source: 'url', url, method, params, authToken, signal, live, fallback: fallbackUrl !== null });
      if (!first || first.verdict) return first?.verdict ?? { kind: 'aborted' };
      const errorCode = first.errorCode ?? RETRIEVAL_FAILURE;
      if (!fallbackUrl || !live()) return { kind: 'application-error', errorCode };
      const second = await this.attempt(call, {
        source: 'fallback',
        url: fallbackUrl,
        method: fallbackMethod,
        params: { ...params, ErrorCode: String(errorCode), ErrorUrl: splitFragment(url).url },
        authToken,
        signal,
        live,
        fallback: false,
      });
      if (!second) return { kind: 'aborted' };
      return second.verdict ?? { kind: 'application-error', errorCode: second.errorCode ?? RETRIEVAL_FAILURE };
    } finally {
      // After a reset the count restarted from 0 without this request.
      if (signal === this.abort.signal) this.outstanding--;
      this.signal.notify();
    }
  }

  /** Aborts every request in flight (reset and stop); their calls are gone. */
  clear(): void {
    this.abort.abort();
    this.abort = sharedAbortController();
    this.outstanding = 0;
  }

  /** One request, recorded; null when the carrier was reset or stopped meanwhile. */
  private async attempt(call: CallRecord, a: AttemptSpec): Promise<Attempted | null> {
    const token = randomUUID();
    const at = Date.now();
    const request = this.build(a);
    let assessed: Attempted;
    if (typeof request === 'string') {
      assessed = { result: 'connection-error', responseStatus: null, responseBody: null, errorCode: RETRIEVAL_FAILURE, error: request, verdict: null };
    } else {
      call.voiceFetches++;
      // The URL's own #ct/#rt/#tt overrides can only shorten the carrier's timeout; there are no retries.
      const overrides = parseOverrides(a.url);
      const sent = await this.sender.send(request, {
        connectTimeoutMs: Math.min(overrides.connectTimeoutMs, this.timeoutMs),
        responseTimeoutMs: Math.min(overrides.responseTimeoutMs, this.timeoutMs),
        headers: webhookHeaders(request, token),
        signal: a.signal,
        maxBodyBytes: MAX_TWIML_BYTES,
      });
      if (sent.kind === 'aborted') return null;
      assessed = assess(sent);
    }
    const action: VoiceAction = !a.live() ? 'call-ended' : assessed.verdict ? assessed.verdict.kind : a.fallback ? 'fallback' : 'application-error';
    this.instrumentation.recordVoiceRequest({
      callSid: call.sid,
      accountSid: call.accountSid,
      source: a.source,
      method: a.method,
      url: typeof request === 'string' ? splitFragment(a.url).url : request.url,
      params: typeof request === 'string' ? a.params : request.params,
      signature: typeof request === 'string' ? '' : request.signature,
      idempotencyToken: token,
      result: assessed.result,
      responseStatus: assessed.responseStatus,
      responseBody: assessed.responseBody,
      errorCode: assessed.errorCode,
      error: assessed.error,
      action,
      at,
      finishedAt: Date.now(),
    });
    this.logger.debug({ callSid: call.sid, source: a.source, result: assessed.result, action }, 'voice request');
    this.signal.notify();
    return assessed;
  }

  /** The signed request, or why there is none (validation admits only http(s), so Node refused the URL). */
  private build(a: AttemptSpec): CallbackRequest | string {
    try {
      return buildCallbackRequest(a.url, a.method, a.params, a.authToken);
    } catch (err) {
      return `unusable URL: ${String(err)}`;
    }
  }
}
