import { callDurationSec, type CallRecord } from './call-record';
import { rfc2822 } from './dates';
import type { CallbackEvent, LifecycleStatus } from './types';

/** SIP codes Twilio reports on terminal events (486 busy, 487 timeout or canceled, 404 unroutable). */
const SIP_CODES: Record<string, number> = { completed: 200, busy: 486, 'no-answer': 487, canceled: 487, failed: 404 };

/** The CallStatus each subscribed event reports; `answered` reports in-progress. */
export function callStatusFor(event: CallbackEvent, call: CallRecord): LifecycleStatus {
  if (event === 'answered') return 'in-progress';
  if (event === 'completed') return call.lifecycle;
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
  if (call.script.answeredBy && call.answeredAt !== null && (event === 'answered' || event === 'completed')) {
    params.AnsweredBy = call.script.answeredBy;
  }
  if (event === 'completed') {
    const seconds = callDurationSec(call) ?? 0;
    params.CallDuration = String(seconds);
    params.Duration = String(Math.ceil(seconds / 60));
    params.SipResponseCode = String(call.sipResponseCode ?? SIP_CODES[status] ?? 200);
  }
  return params;
}
