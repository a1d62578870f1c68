import type pino from 'pino';
import { amdCallbackParams, plannedDetection, type Detection } from './amd';
import { isTerminal, TERMINAL, type CallRecord } from './call-record';
import { callbackParams } from './callback-params';
import type { CallbackDispatcher } from './callbacks';
import { CpsQueue } from './cps-queue';
import type { Instrumentation } from './instrumentation';
import type { ResolvedScript } from './scripts';
import { newSid } from './sids';
import type { AccountConfig, CallbackEvent, CallbackFault, LifecycleStatus, ReleaseOutcome, TerminalStatus } from './types';
import type { CreateRequest } from './validation';
import { verdictOfTwiml, type VoiceFetcher, type VoiceVerdict } from './voice-app';
import type { ChangeSignal } from './waiters';

export interface Account {
  sid: string;
  authToken: string;
  ownedNumbers: ReadonlySet<string> | null;
  queue: CpsQueue<CallRecord>;
  /** null = 24 h of calls at the current CPS, Twilio's limit. */
  queueLimit: number | null;
  initial: AccountConfig;
}

export const DEFAULT_CALLS_PER_SECOND = 100;

/**
 * The call state machine: queued → initiated → ringing → in-progress → completed, or busy,
 * no-answer, failed, canceled. Every transition is synchronous, so the live count, the timeline and
 * the order of callbacks all follow the same single sequence of events.
 */
export class CallEngine {
  readonly calls = new Map<string, CallRecord>();
  readonly accounts = new Map<string, Account>();

  constructor(
    accounts: AccountConfig[],
    private readonly instrumentation: Instrumentation,
    private readonly dispatcher: CallbackDispatcher,
    private readonly voice: VoiceFetcher,
    private readonly signal: ChangeSignal,
    private readonly timeScale: number,
    private readonly logger: pino.Logger,
  ) {
    for (const config of accounts) {
      this.accounts.set(config.accountSid, {
        sid: config.accountSid,
        authToken: config.authToken,
        ownedNumbers: config.ownedNumbers ? new Set(config.ownedNumbers) : null,
        queue: new CpsQueue<CallRecord>(config.callsPerSecond ?? DEFAULT_CALLS_PER_SECOND, (call) => this.dial(call)),
        queueLimit: config.queueLimit ?? null,
        initial: config,
      });
    }
  }

  queueIsFull(account: Account): boolean {
    const limit = account.queueLimit ?? Math.ceil(account.queue.callsPerSecond * 86_400);
    return account.queue.length >= limit;
  }

  create(account: Account, request: CreateRequest, script: ResolvedScript, callbackFaults: CallbackFault[]): CallRecord {
    const now = Date.now();
    const call: CallRecord = {
      sid: newSid('CA'),
      accountSid: account.sid,
      to: request.to,
      from: request.from,
      lifecycle: 'queued',
      script,
      callbackFaults,
      request,
      created: request,
      callback: request.statusCallback
        ? { url: request.statusCallback, method: request.statusCallbackMethod, events: new Set(request.statusCallbackEvents) }
        : null,
      createdAt: now,
      updatedAt: now,
      startTime: null,
      answeredAt: null,
      endTime: null,
      queueTimeMs: 0,
      ringWindowMs: request.timeoutSec * 1000 * this.timeScale,
      timeLimitMs: request.timeLimitSec === null ? null : request.timeLimitSec * 1000 * this.timeScale,
      nextSequence: 0,
      sipResponseCode: script.sipResponseCode,
      timeline: [{ status: 'queued', at: now }],
      timer: null,
      amdTimer: null,
      answeredBy: null,
      voiceFetches: 0,
      errorCode: null,
      deleted: false,
    };
    this.calls.set(call.sid, call);
    this.instrumentation.callStarted(call);
    call.queueTimeMs = account.queue.push(call);
    this.logger.debug({ callSid: call.sid, to: call.to, from: call.from, outcome: script.outcome }, 'call created');
    this.signal.notify();
    return call;
  }

  /** REST update with Status=canceled|completed. Returns without effect where Twilio has none. */
  hangUp(call: CallRecord, status: 'canceled' | 'completed'): void {
    if (isTerminal(call)) return;
    if (call.lifecycle === 'queued') return this.finish(call, 'canceled', { silent: true });
    if (call.lifecycle === 'in-progress') {
      if (status === 'completed') this.finish(call, 'completed');
      return;
    }
    // Hanging up before the callee answered: the caller side cancels the INVITE.
    call.sipResponseCode ??= 487;
    this.finish(call, status);
  }

  /** Ends a call scripted `hold`; false when the call is not (or no longer) held. */
  release(call: CallRecord, outcome: ReleaseOutcome = 'completed'): boolean {
    if (isTerminal(call) || call.script.outcome !== 'hold') return false;
    if (call.lifecycle === 'in-progress') {
      if (outcome === 'busy' || outcome === 'no-answer') throw new Error(`call ${call.sid} was answered: it cannot end as ${outcome}`);
      this.finish(call, outcome);
    } else if (call.lifecycle === 'queued' || outcome === 'completed') {
      // Not answered yet: it plays the rest of its script with the new outcome and no talk time.
      call.script = { ...call.script, outcome, talkMs: 0 };
    } else {
      this.finish(call, outcome);
    }
    return true;
  }

  setAccountLimits(account: Account, limits: { callsPerSecond?: number; queueLimit?: number | null }): void {
    if (limits.callsPerSecond !== undefined) account.queue.setCallsPerSecond(limits.callsPerSecond);
    if (limits.queueLimit !== undefined) account.queueLimit = limits.queueLimit;
  }

  /** Forgets every call and cancels every timer; accounts go back to their configured limits. */
  reset(): void {
    this.clear();
    for (const account of this.accounts.values()) {
      account.queue.setCallsPerSecond(account.initial.callsPerSecond ?? DEFAULT_CALLS_PER_SECOND);
      account.queueLimit = account.initial.queueLimit ?? null;
    }
  }

  /** Cancels every timer and forgets every call, scheduling nothing new (stop). */
  clear(): void {
    for (const call of this.calls.values()) {
      if (call.timer) clearTimeout(call.timer);
      if (call.amdTimer) clearTimeout(call.amdTimer);
    }
    this.calls.clear();
    for (const account of this.accounts.values()) account.queue.clear();
  }

  private dial(call: CallRecord): void {
    if (call.lifecycle !== 'queued') return;
    const now = Date.now();
    call.startTime = now;
    call.queueTimeMs = now - call.createdAt;
    this.enter(call, 'initiated', now);
    this.emit(call, 'initiated', now);
    this.after(call, call.script.dialMs, () => (call.script.outcome === 'failed' ? this.finish(call, 'failed') : this.ring(call)));
  }

  private ring(call: CallRecord): void {
    const now = Date.now();
    this.enter(call, 'ringing', now);
    this.emit(call, 'ringing', now);
    const { outcome, ringMs, ringMsExplicit } = call.script;
    const window = call.ringWindowMs;
    if (outcome === 'no-answer') {
      this.after(call, ringMsExplicit ? Math.min(ringMs, window) : window, () => this.finish(call, 'no-answer'));
    } else if (ringMs >= window) {
      // Twilio stops ringing after the request's Timeout whatever the callee would have done.
      this.after(call, window, () => this.finish(call, 'no-answer'));
    } else if (outcome === 'busy' || outcome === 'failed') {
      this.after(call, ringMs, () => this.finish(call, outcome));
    } else {
      this.after(call, ringMs, () => this.answer(call));
    }
  }

  /**
   * Synchronous AMD holds the answered callback and the voice request until detection is done, so
   * both carry AnsweredBy. Async AMD lets them go at once and reports on the AsyncAmdStatusCallback.
   */
  private answer(call: CallRecord): void {
    const now = Date.now();
    call.answeredAt = now;
    this.enter(call, 'in-progress', now);
    const detection = plannedDetection(call.script, call.request, this.timeScale);
    if (detection && !call.request.asyncAmd) {
      this.after(call, detection.durationMs, () => {
        call.answeredBy = detection.answeredBy;
        this.emit(call, 'answered', Date.now());
        this.startApp(call);
      });
      return;
    }
    this.emit(call, 'answered', now);
    if (detection) call.amdTimer = setTimeout(() => this.detectedAsync(call, detection), detection.durationMs);
    this.startApp(call);
  }

  private detectedAsync(call: CallRecord, detection: Detection): void {
    call.amdTimer = null;
    if (isTerminal(call)) return;
    call.answeredBy = detection.answeredBy;
    this.signal.notify();
    const url = call.request.asyncAmdStatusCallback;
    const account = this.accounts.get(call.accountSid);
    if (!url || !account) return;
    const target = { url, method: call.request.asyncAmdStatusCallbackMethod };
    this.dispatcher.fire(call, target, 'amd', null, amdCallbackParams(call, detection), account.authToken, Date.now());
  }

  /** The call's instructions start: fetched from its Url, read from its Twiml, or (ApplicationSid) none to read. */
  private startApp(call: CallRecord): void {
    const { url, twiml } = call.request;
    const account = this.accounts.get(call.accountSid);
    if (url && account) {
      const live = () => !isTerminal(call) && this.calls.get(call.sid) === call;
      void this.voice.run(call, account.authToken, live).then((verdict) => {
        if (live()) this.follow(call, verdict);
      });
    } else if (twiml) {
      this.follow(call, verdictOfTwiml(twiml));
    } else {
      this.talk(call);
    }
  }

  /** Twilio plays its "application error" message and hangs up when the voice app cannot be used. */
  private follow(call: CallRecord, verdict: VoiceVerdict): void {
    if (verdict.kind === 'aborted') return;
    if (verdict.kind === 'continue') return this.talk(call);
    if (verdict.kind === 'application-error') call.errorCode = verdict.errorCode;
    this.finish(call, 'completed');
  }

  /** The script's talk time runs from when the instructions start; TimeLimit counts from the answer. */
  private talk(call: CallRecord): void {
    const answeredAt = call.answeredAt ?? Date.now();
    const limit = call.timeLimitMs === null ? null : Math.max(0, call.timeLimitMs - (Date.now() - answeredAt));
    if (call.script.outcome === 'hold') {
      if (limit !== null) this.after(call, limit, () => this.finish(call, 'completed'));
      return;
    }
    const talk = limit === null ? call.script.talkMs : Math.min(call.script.talkMs, limit);
    this.after(call, talk, () => this.finish(call, 'completed'));
  }

  private finish(call: CallRecord, status: TerminalStatus, opts: { silent?: boolean } = {}): void {
    if (isTerminal(call)) return;
    if (call.timer) clearTimeout(call.timer);
    if (call.amdTimer) clearTimeout(call.amdTimer);
    call.timer = null;
    call.amdTimer = null;
    if (call.lifecycle === 'queued') this.accounts.get(call.accountSid)?.queue.remove(call);
    const now = Date.now();
    // enter() takes the call out of the live count before the terminal callback is queued.
    this.enter(call, status, now);
    if (!opts.silent) this.emit(call, 'completed', now);
    this.dispatcher.callEnded(call);
  }

  private enter(call: CallRecord, status: LifecycleStatus, at: number): void {
    call.lifecycle = status;
    call.updatedAt = at;
    call.timeline.push({ status, at });
    if (TERMINAL.has(status)) {
      call.endTime = at;
      this.instrumentation.callEnded(call);
    }
    this.signal.notify();
  }

  /** Every event takes a SequenceNumber, subscribed or not; only subscribed ones are sent. */
  private emit(call: CallRecord, event: CallbackEvent, at: number): void {
    const sequenceNumber = call.nextSequence++;
    const target = call.callback;
    if (!target?.events.has(event)) return;
    const account = this.accounts.get(call.accountSid);
    if (!account) return;
    this.dispatcher.fire(call, target, event, sequenceNumber, callbackParams(call, event, sequenceNumber, at), account.authToken, at);
  }

  private after(call: CallRecord, ms: number, next: () => void): void {
    if (call.timer) clearTimeout(call.timer);
    call.timer = setTimeout(() => {
      call.timer = null;
      next();
    }, ms);
  }
}
