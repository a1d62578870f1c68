import { randomUUID } from 'node:crypto';
import type pino from 'pino';
import type { CallRecord } from './call-record';
import { callStatusFor } from './callback-params';
import { sharedAbortController, type HttpSender, type SendResult } from './http-sender';
import type { Instrumentation } from './instrumentation';
import { parseOverrides, shouldRetry } from './overrides';
import { buildCallbackRequest, splitFragment, webhookHeaders, type CallbackRequest } from './signing';
import type { CallbackFault, CallbackRecord, DeliveredEvent, LifecycleStatus } from './types';
import type { ChangeSignal } from './waiters';

interface Job {
  callSid: string;
  accountSid: string;
  event: DeliveredEvent;
  callStatus: LifecycleStatus;
  sequenceNumber: number | null;
  target: { url: string; method: 'GET' | 'POST' };
  params: Record<string, string>;
  authToken: string;
  token: string;
  firedAt: number;
  delayMs: number;
  badSignature: boolean;
  tamper: boolean;
  faults: string[];
}

interface CallQueue {
  jobs: Job[];
  running: boolean;
  /** Set for a call with the `reorder` fault: its jobs wait here until the call ends. */
  reorder: Job[] | null;
  dead: boolean;
}

const matches = (fault: CallbackFault, event: DeliveredEvent) => !('events' in fault) || !fault.events || fault.events.includes(event);

/**
 * Delivers each call's status callbacks in order: one ordered queue per call, each request sent
 * after the previous one got a response or failed for good. Faults are applied as events fire.
 */
export class CallbackDispatcher {
  private queues = new Map<string, CallQueue>();
  private outstanding = 0;
  private abort = sharedAbortController();
  private sleeps = new Set<() => void>();

  constructor(
    private readonly instrumentation: Instrumentation,
    private readonly signal: ChangeSignal,
    private readonly sender: HttpSender,
    private readonly retryDelayMs: number,
    private readonly logger: pino.Logger,
  ) {}


  /** Callbacks queued, waiting out a delay, being sent, or held back by a reorder fault. */
  get pending(): number {
    return this.outstanding;
  }

  /** Queues one callback: a status event, or (`amd`, no SequenceNumber) the AsyncAmdStatusCallback. */
  fire(
    call: CallRecord,
    target: { url: string; method: 'GET' | 'POST' },
    event: DeliveredEvent,
    sequenceNumber: number | null,
    params: Record<string, string>,
    authToken: string,
    at: number,
  ): void {
    const faults = call.callbackFaults;
    const job: Job = {
      callSid: call.sid,
      accountSid: call.accountSid,
      event,
      callStatus: callStatusFor(event, call),
      sequenceNumber,
      target: { url: target.url, method: target.method },
      params,
      authToken,
      token: randomUUID(),
      firedAt: at,
      delayMs: 0,
      badSignature: false,
      tamper: false,
      faults: [],
    };
    const final = event === 'completed';
    if (final && faults.some((f) => f.kind === 'omit-final')) return this.skip(job, 'omitted');
    if (faults.some((f) => f.kind === 'drop' && matches(f, event))) return this.skip(job, 'dropped');
    for (const f of faults) {
      if (!matches(f, event)) continue;
      if (f.kind === 'delay') {
        job.delayMs += f.ms;
        job.faults.push(`delayed:${f.ms}`);
      } else if (f.kind === 'bad-signature') {
        job.badSignature = true;
        job.faults.push('bad-signature');
      } else if (f.kind === 'tamper') {
        job.tamper = true;
        job.faults.push('tampered');
      }
    }
    const jobs = [job];
    if (faults.some((f) => f.kind === 'duplicate' && matches(f, event))) jobs.push({ ...job, faults: [...job.faults, 'duplicate'] });
    const queue = this.queueFor(call);
    this.outstanding += jobs.length;
    if (queue.reorder) {
      for (const j of jobs) j.faults.push('reordered');
      queue.reorder.push(...jobs);
      return;
    }
    queue.jobs.push(...jobs);
    this.run(call.sid, queue);
  }

  /** A reorder-faulted call's held-back callbacks go out now, newest first. */
  callEnded(call: CallRecord): void {
    const queue = this.queues.get(call.sid);
    if (!queue?.reorder) return;
    queue.jobs.push(...queue.reorder.reverse());
    queue.reorder = null;
    this.run(call.sid, queue);
  }

  /** Drops every queued callback and aborts those in flight (reset and stop). */
  clear(): void {
    for (const q of this.queues.values()) q.dead = true;
    this.queues.clear();
    this.outstanding = 0;
    this.abort.abort();
    this.abort = sharedAbortController();
    for (const wake of this.sleeps) wake();
    this.sleeps.clear();
  }

  private queueFor(call: CallRecord): CallQueue {
    let q = this.queues.get(call.sid);
    if (!q) {
      q = { jobs: [], running: false, reorder: call.callbackFaults.some((f) => f.kind === 'reorder') ? [] : null, dead: false };
      this.queues.set(call.sid, q);
    }
    return q;
  }

  private skip(job: Job, result: 'dropped' | 'omitted'): void {
    this.instrumentation.recordCallback({
      ...this.recordBase(job),
      method: job.target.method,
      url: splitFragment(job.target.url).url,
      params: job.params,
      signature: null,
      attempt: 0,
      faults: [result === 'dropped' ? 'drop' : 'omit-final'],
      result,
      responseStatus: null,
      error: null,
      sentAt: null,
      finishedAt: Date.now(),
    });
    this.signal.notify();
  }

  private run(sid: string, queue: CallQueue): void {
    if (queue.running) return;
    queue.running = true;
    void this.drain(sid, queue);
  }

  private async drain(sid: string, queue: CallQueue): Promise<void> {
    try {
      for (let job = queue.jobs.shift(); job; job = queue.jobs.shift()) {
        await this.deliver(job, this.abort.signal);
        if (queue.dead) return;
        this.outstanding--;
        this.signal.notify();
      }
    } catch (err) {
      this.logger.error({ err, callSid: sid }, 'sandbox carrier: callback delivery failed unexpectedly');
    } finally {
      queue.running = false;
    }
    if (!queue.dead && queue.jobs.length === 0 && queue.reorder === null) this.queues.delete(sid);
  }

  private async deliver(job: Job, signal: AbortSignal): Promise<void> {
    if (job.delayMs > 0 && !(await this.sleep(job.delayMs, signal))) return;
    const overrides = parseOverrides(job.target.url);
    for (let attempt = 1; attempt <= 1 + overrides.retries; attempt++) {
      let request: CallbackRequest;
      try {
        request = buildCallbackRequest(job.target.url, job.target.method, job.params, job.authToken, job);
      } catch (err) {
        this.record(job, attempt, null, Date.now(), { kind: 'connection-error', error: `unusable StatusCallback: ${String(err)}` });
        return;
      }
      const headers = webhookHeaders(request, job.token);
      const sentAt = Date.now();
      const result = await this.sender.send(request, {
        connectTimeoutMs: overrides.connectTimeoutMs,
        responseTimeoutMs: overrides.responseTimeoutMs,
        headers,
        signal,
      });
      if (result.kind === 'aborted') return;
      this.record(job, attempt, request, sentAt, result);
      this.logger.debug({ callSid: job.callSid, event: job.event, attempt, result }, 'status callback');
      if (attempt > overrides.retries || !shouldRetry(result, overrides.policy)) return;
      if (!(await this.sleep(this.retryDelayMs, signal))) return;
    }
  }

  private recordBase(job: Job): Pick<CallbackRecord, 'callSid' | 'accountSid' | 'event' | 'callStatus' | 'sequenceNumber' | 'idempotencyToken' | 'firedAt'> {
    return {
      callSid: job.callSid,
      accountSid: job.accountSid,
      event: job.event,
      callStatus: job.callStatus,
      sequenceNumber: job.sequenceNumber,
      idempotencyToken: job.token,
      firedAt: job.firedAt,
    };
  }

  private record(job: Job, attempt: number, request: CallbackRequest | null, sentAt: number, result: Exclude<SendResult, { kind: 'aborted' }>): void {
    this.instrumentation.recordCallback({
      ...this.recordBase(job),
      method: job.target.method,
      url: request?.url ?? splitFragment(job.target.url).url,
      params: request?.params ?? job.params,
      signature: request?.signature ?? null,
      attempt,
      faults: job.faults,
      result: result.kind,
      responseStatus: result.kind === 'response' ? result.status : null,
      error: result.kind === 'response' ? null : result.error,
      sentAt,
      finishedAt: Date.now(),
    });
    this.signal.notify();
  }

  /** Resolves false when the carrier is reset or stopped meanwhile. */
  private sleep(ms: number, signal: AbortSignal): Promise<boolean> {
    if (signal.aborted) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.sleeps.delete(wake);
        resolve(false);
      };
      const timer = setTimeout(() => {
        this.sleeps.delete(wake);
        resolve(!signal.aborted);
      }, ms);
      this.sleeps.add(wake);
    });
  }
}
