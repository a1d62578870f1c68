/**
 * The sandbox carrier: a Twilio-compatible Voice Calls API on loopback that the unmodified `twilio`
 * SDK dials, with Twilio-signed status callbacks, scriptable outcomes, faults on demand and exact
 * live/peak concurrency counts. See docs/sandbox-carrier.md.
 */
export { startSandboxCarrier } from './carrier';
export type { AccountLimits, CallbackFilter, SandboxCarrier, SandboxCarrierOptions, VoiceRequestFilter, WaitOptions } from './carrier-api';
export { MAGIC_NUMBERS } from './validation';
export { DEFAULT_CALLS_PER_SECOND } from './engine';
export { MAGIC_OUTCOME_RULES } from './scripts';
export { DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN } from './sids';
export { WaitTimeoutError } from './waiters';
export type * from './types';
