import type pino from 'pino';
import type { PendingFaults } from './faults';
import type {
  AccountConfig,
  ApiRequestRecord,
  DeliveredEvent,
  CallbackRecord,
  CallbackResult,
  CallFilter,
  CallScript,
  CallView,
  FaultInjection,
  LifecycleStatus,
  Outcome,
  ReleaseOutcome,
  SandboxStats,
  ScriptRule,
  VoiceRequestRecord,
  VoiceRequestResult,
} from './types';

/** The carrier object's public surface and its start options (see docs/sandbox-carrier.md). */

export interface SandboxCarrierOptions {
  /** 0 or omitted = a random free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default a fixed sandbox SID (DEFAULT_ACCOUNT_SID). */
  accountSid?: string;
  /** Default a fixed sandbox token (DEFAULT_AUTH_TOKEN). */
  authToken?: string;
  /** From numbers the account owns; omitted = any valid E.164 From is accepted. */
  ownedNumbers?: string[];
  /** Dequeue pace per account; default 100 (Twilio's default is 1). */
  callsPerSecond?: number;
  /** Queued calls beyond this answer 22005; default 24 h of calls at the CPS, as Twilio. */
  queueLimit?: number;
  /** More accounts, each with its own credentials, numbers, CPS and counts. */
  accounts?: AccountConfig[];
  /** Default behaviour per To/From pattern, first match wins. */
  scripts?: ScriptRule[];
  /** What an unmatched number does; default: rings 20 ms, talks 30 ms, completes. */
  defaultScript?: CallScript;
  /** Multiplies the request's Timeout and TimeLimit seconds; default 0.01 (a 60 s Timeout rings 600 ms). */
  timeScale?: number;
  /** To prefixes refused with 21215 (default +882, +883). */
  geoBlockedPrefixes?: string[];
  /** To numbers refused with 21216. */
  blockedNumbers?: string[];
  /** Pause before a callback's retry; default 50 ms. */
  callbackRetryDelayMs?: number;
  /** How long a voice URL has to answer; default 15000 ms, Twilio's timeout (not scaled). */
  voiceUrlTimeoutMs?: number;
  /** Default timeout of the waitFor* helpers; default 30 s. */
  waitTimeoutMs?: number;
  logger?: pino.Logger;
}

export interface WaitOptions {
  timeoutMs?: number;
}

export interface CallbackFilter {
  callSid?: string;
  /** `amd` selects AsyncAmdStatusCallback deliveries. */
  event?: DeliveredEvent;
  result?: CallbackResult;
}

export interface VoiceRequestFilter {
  callSid?: string;
  result?: VoiceRequestResult;
}

export interface AccountLimits {
  callsPerSecond?: number;
  /** null = Twilio's 24 h of calls at the CPS. */
  queueLimit?: number | null;
}

export interface SandboxCarrier {
  /** e.g. http://127.0.0.1:3100, the `apiBaseUrl` for createTelephonyClient. */
  readonly url: string;
  readonly port: number;
  readonly accountSid: string;
  readonly authToken: string;
  /** Closes the server and every connection, cancels all timers and callbacks. */
  stop(): Promise<void>;
  calls(filter?: CallFilter): CallView[];
  call(sid: string): CallView | undefined;
  callbacks(filter?: CallbackFilter): CallbackRecord[];
  /** Every request for a call's voice app (Url, FallbackUrl), in the order they finished. */
  voiceRequests(filter?: VoiceRequestFilter): VoiceRequestRecord[];
  /** Every Calls API request received, in arrival order, with the status it was answered. */
  requests(): ApiRequestRecord[];
  stats(): SandboxStats;
  /** Clears calls, callbacks, requests, peaks, scripts, outcomes, faults and limits back to the start options. */
  reset(): void;
  /** Replaces the rules (and, if given, the default script). */
  setScripts(rules: ScriptRule[], defaultScript?: CallScript): void;
  /** The next creates take these, one each, before any rule. */
  queueOutcomes(outcomes: Array<Outcome | CallScript>): void;
  injectFaults(faults: FaultInjection): void;
  /** Drops the injected faults no request or call has consumed yet, returning them. */
  clearFaults(): PendingFaults;
  setAccountLimits(limits: AccountLimits, accountSid?: string): void;
  /** Ends a call scripted `hold`; false if it is not held. */
  releaseCall(sid: string, outcome?: ReleaseOutcome): boolean;
  /** Releases every held call; returns how many. */
  releaseAll(outcome?: ReleaseOutcome): number;
  /** From now on creates to these numbers answer 21216 (until reset). */
  blockNumbers(numbers: string[]): void;
  /** From now on creates to numbers with these prefixes answer 21215 (until reset). */
  geoBlockPrefixes(prefixes: string[]): void;
  waitFor(predicate: () => boolean, opts?: WaitOptions & { description?: string }): Promise<void>;
  /** Resolves once at least `count` calls match the filter; returns those calls. */
  waitForCalls(count: number, filter?: CallFilter, opts?: WaitOptions): Promise<CallView[]>;
  waitForCall(sid: string, status: LifecycleStatus | LifecycleStatus[], opts?: WaitOptions): Promise<CallView>;
  waitForCallbacks(count: number, filter?: CallbackFilter, opts?: WaitOptions): Promise<CallbackRecord[]>;
  /** Resolves once at least `count` voice requests match the filter; returns them. */
  waitForVoiceRequests(count: number, filter?: VoiceRequestFilter, opts?: WaitOptions): Promise<VoiceRequestRecord[]>;
  /** Resolves when no call is live and no callback or voice request is pending. */
  whenIdle(opts?: WaitOptions): Promise<void>;
}
