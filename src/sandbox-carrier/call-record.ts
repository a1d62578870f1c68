import type { ResolvedScript } from './scripts';
import type { AnsweredBy, CallbackEvent, CallbackFault, CallStatus, CallView, LifecycleStatus, TerminalStatus, TimelineEntry } from './types';
import type { CreateRequest } from './validation';

export interface CallbackTarget {
  url: string;
  method: 'GET' | 'POST';
  events: ReadonlySet<CallbackEvent>;
}

/** The carrier's own record of one call; the REST resource and CallView are projections of it. */
export interface CallRecord {
  sid: string;
  accountSid: string;
  to: string;
  from: string;
  lifecycle: LifecycleStatus;
  script: ResolvedScript;
  callbackFaults: CallbackFault[];
  /** The instructions now: an update's Url or Twiml replaces the created ones. */
  request: CreateRequest;
  /** The request as created, for the view. */
  readonly created: CreateRequest;
  callback: CallbackTarget | null;
  createdAt: number;
  updatedAt: number;
  startTime: number | null;
  answeredAt: number | null;
  endTime: number | null;
  queueTimeMs: number;
  /** Ring window after the time scale: ringing longer than this is no-answer. */
  ringWindowMs: number;
  timeLimitMs: number | null;
  /** Next SequenceNumber: every lifecycle event counts, subscribed or not (see docs). */
  nextSequence: number;
  sipResponseCode: number | null;
  timeline: TimelineEntry[];
  timer: NodeJS.Timeout | null;
  /** Async AMD runs beside the call's own timer. */
  amdTimer: NodeJS.Timeout | null;
  /** The AMD result once known, as reported; null without MachineDetection. */
  answeredBy: AnsweredBy | null;
  voiceFetches: number;
  /** 11200 / 12100 when an application error ended the call. */
  errorCode: number | null;
  deleted: boolean;
}

export const TERMINAL: ReadonlySet<LifecycleStatus> = new Set<TerminalStatus>(['completed', 'busy', 'failed', 'no-answer', 'canceled']);

export const isTerminal = (call: CallRecord) => TERMINAL.has(call.lifecycle);

/** The REST enum has no `initiated`: a dequeued call that is dialling already shows as ringing. */
export function restStatus(call: CallRecord): CallStatus {
  return call.lifecycle === 'initiated' ? 'ringing' : call.lifecycle;
}

/** Talk time in whole seconds, rounded up, so any answered call lasts at least one second. */
export function callDurationSec(call: CallRecord): number | null {
  if (call.endTime === null) return null;
  if (call.answeredAt === null) return 0;
  return Math.ceil((call.endTime - call.answeredAt) / 1000);
}

export function toView(call: CallRecord): CallView {
  return {
    sid: call.sid,
    accountSid: call.accountSid,
    from: call.from,
    to: call.to,
    status: restStatus(call),
    lifecycle: call.lifecycle,
    outcome: call.script.outcome,
    held: call.script.outcome === 'hold' && !isTerminal(call),
    deleted: call.deleted,
    createdAt: call.createdAt,
    startTime: call.startTime,
    answeredAt: call.answeredAt,
    endTime: call.endTime,
    queueTimeMs: call.queueTimeMs,
    durationSec: callDurationSec(call),
    statusCallback: call.callback?.url ?? null,
    statusCallbackMethod: call.callback?.method ?? 'POST',
    statusCallbackEvents: call.callback ? [...call.callback.events] : [],
    url: call.created.url,
    method: call.created.method,
    twiml: call.created.twiml,
    applicationSid: call.created.applicationSid,
    machineDetection: call.created.machineDetection,
    asyncAmd: call.created.asyncAmd,
    answeredBy: call.answeredBy,
    voiceFetches: call.voiceFetches,
    errorCode: call.errorCode,
    timeline: call.timeline.map((t) => ({ ...t })),
  };
}
