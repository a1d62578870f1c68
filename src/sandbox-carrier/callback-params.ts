import { callDurationSec, type CallRecord } from './call-record';
import { rfc2822 } from './dates';
import type { CallbackEvent, DeliveredEvent, LifecycleStatus } from './types';

/** SIP codes Twilio reports on terminal events (486 busy, 487 timeout or canceled, 404 unroutable). */
const SIP_CODES: Record<string, number> = { completed: 200, busy: 486, 'no-answer': 487, canceled: 487, failed: 404 };

/** The CallStatus each subscribed event reports; `answered` reports in-progress, `amd` the call's status. */
export function callStatusFor(event: DeliveredEvent, call: CallRecord): LifecycleStatus {
  if (event === 'answered') return 'in-progress';
  if (event === 'completed' || event === 'amd') return call.lifecycle;
  return event;
}

/**
 * The parameter set of a call-progress status callback. Geo fields (ToCity, CallerCountry…) are left
 * out: Twilio sends them only when its number lookup succeeds, and the sandbox does no lookup.
 */
export function callbackParams(call: CallRecord, event: CallbackEvent, sequenceNumber: number, at: number): Record<string, string> {
  const status = callStatusFor(event, call);
  const params: Record<string, string> = {
    Called: call.to,
    Direction: 'outbound-api',
    Timestamp: rfc2822(at),
    CallbackSource: 'call-progress-events',
    SequenceNumber: String(sequenceNumber),
    CallSid: call.sid,
    To: call.to,
    ApiVersion: '2010-04-01',
    CallStatus: status,
    From: call.from,
    AccountSid: call.accountSid,
    Caller: call.from,
  };
  // Set only by answering-machine detection: with async AMD the answered event comes before it.
  if (call.answeredBy && (event === 'answered' || event === 'completed')) params.AnsweredBy = call.answeredBy;
  if (event === 'completed') {
    const seconds = callDurationSec(call) ?? 0;
    params.CallDuration = String(seconds);
    params.Duration = String(Math.ceil(seconds / 60));
    params.SipResponseCode = String(call.sipResponseCode ?? SIP_CODES[status] ?? 200);
  }
  return params;
}

/** What a voice URL request carries (Twilio's voice webhook set, without the geo fields). */
export function voiceParams(call: CallRecord): Record<string, string> {
  const params: Record<string, string> = {
    AccountSid: call.accountSid,
    ApiVersion: '2010-04-01',
    CallSid: call.sid,
    CallStatus: 'in-progress',
    Called: call.to,
    Caller: call.from,
    Direction: 'outbound-api',
    From: call.from,
    To: call.to,
  };
  // With synchronous AMD the request waits for the result, so it can carry it.
  if (call.answeredBy && !call.request.asyncAmd) params.AnsweredBy = call.answeredBy;
  return params;
}
