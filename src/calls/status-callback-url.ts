/**
 * The status callback URL carries Outdial's own call ID: Twilio may POST `initiated` before
 * `calls.create()` has returned the SID, and matching on our ID means no early callback is dropped.
 * (No `'` or `+` in it: twilio-node's validator mishandles them, twilio-node#1183.)
 */
export const STATUS_CALLBACK_PATH = '/v1/twilio/status';

export function statusCallbackUrl(publicBaseUrl: string, callId: string): string {
  return `${publicBaseUrl}${STATUS_CALLBACK_PATH}?callId=${encodeURIComponent(callId)}`;
}

/**
 * The events we subscribe to: `answered` (the call is live: answered_at, the run page, events, SSE),
 * `completed` (any terminal status) to free the slot, and `ringing` only when asked for
 * (TWILIO_RINGING_CALLBACKS): no rule reads it, and it cost a callback and a transaction per call.
 * Not `initiated`: the create answer already records the call as dialed (reserved → queued, the
 * `call.dialed` event).
 */
export function statusCallbackEvents(ringing: boolean): string[] {
  return ringing ? ['ringing', 'answered', 'completed'] : ['answered', 'completed'];
}

/** Twilio's async answering-machine result, for the same call (verified like the status callback). */
export const AMD_CALLBACK_PATH = '/v1/twilio/amd';

export function amdCallbackUrl(publicBaseUrl: string, callId: string): string {
  return `${publicBaseUrl}${AMD_CALLBACK_PATH}?callId=${encodeURIComponent(callId)}`;
}
