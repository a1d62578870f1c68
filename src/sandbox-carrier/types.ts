/** Public vocabulary of the sandbox carrier: scripts, faults and the instrumentation views. */

/** Statuses the REST Call resource can show (Twilio's `call_enum_status`). */
export type CallStatus = 'queued' | 'ringing' | 'in-progress' | 'completed' | 'busy' | 'failed' | 'no-answer' | 'canceled';

/** Every status a call passes through, including `initiated`, which only callbacks ever show. */
export type LifecycleStatus = CallStatus | 'initiated';

export type TerminalStatus = 'completed' | 'busy' | 'failed' | 'no-answer' | 'canceled';

/** Names a client subscribes to with StatusCallbackEvent. */
export type CallbackEvent = 'initiated' | 'ringing' | 'answered' | 'completed';

/** Every callback the carrier delivers: the status events, plus `amd`, the AsyncAmdStatusCallback. */
export type DeliveredEvent = CallbackEvent | 'amd';

/** AnsweredBy values as Twilio names them. */
export type AnsweredBy = 'human' | 'machine_start' | 'machine_end_beep' | 'machine_end_silence' | 'machine_end_other' | 'fax' | 'unknown';

/** The request's MachineDetection mode. */
export type MachineDetection = 'Enable' | 'DetectMessageEnd';

/** What a scripted call does once dialled; `hold` answers and stays in-progress until released. */
export type Outcome = 'completed' | 'busy' | 'no-answer' | 'failed' | 'hold';

/** How a held call may be ended by `releaseCall`; `busy`/`no-answer` only before it was answered. */
export type ReleaseOutcome = 'completed' | 'busy' | 'no-answer' | 'failed';

export type CallbackFault =
  /** The matching callbacks are never sent (recorded with result `dropped`). */
  | { kind: 'drop'; events?: DeliveredEvent[] }
  /** The matching callbacks are sent twice, with the same idempotency token. */
  | { kind: 'duplicate'; events?: DeliveredEvent[] }
  /** The matching callbacks wait `ms` before being sent (later ones queue behind them). */
  | { kind: 'delay'; ms: number; events?: DeliveredEvent[] }
  /** Signed with a wrong token. */
  | { kind: 'bad-signature'; events?: DeliveredEvent[] }
  /** Signed correctly, then one parameter is altered, as by a tampering proxy. */
  | { kind: 'tamper'; events?: DeliveredEvent[] }
  /** The call's callbacks are held back until its final one and then sent newest first. */
  | { kind: 'reorder' }
  /** The terminal callback is never sent, although the call ends at the carrier. */
  | { kind: 'omit-final' };

/** A create that fails at the carrier's front door, from a script rule or the outcome queue. */
export interface CreateFault {
  /** 429 (code 20429) or a 5xx. */
  status: number;
  /** For a 5xx: the call IS created and proceeds, only the response is an error. */
  created?: boolean;
}

/** What one call does. Every field is optional and falls back to the default script. */
export interface CallScript {
  outcome?: Outcome;
  /** initiated → ringing (or → failed). */
  dialMs?: number;
  /** ringing → answered / busy / no-answer. Ringing past the request's Timeout gives no-answer. */
  ringMs?: number;
  /** in-progress → completed. */
  talkMs?: number;
  /**
   * What answering-machine detection finds, when the request asks for it (default `human`). Reported
   * in the request's mode: with `Enable` a `machine_end_*` reads `machine_start`; with
   * `DetectMessageEnd` a `machine_start` reads `machine_end_other`. Without MachineDetection it is
   * never sent.
   */
  answeredBy?: AnsweredBy;
  /** How long detection takes after the answer (default 10). Past MachineDetectionTimeout × timeScale it gives `unknown`. */
  amdMs?: number;
  /** Overrides the SipResponseCode of the terminal callback. */
  sipResponseCode?: number;
  callbackFaults?: CallbackFault[];
  /** Accept-then-timeout: the call is created and proceeds, the HTTP response waits this long. */
  responseDelayMs?: number;
  createFault?: CreateFault;
}

/** A number pattern: exact, a glob with `*`, `/regex/flags` text, or a RegExp. */
export type NumberPattern = string | RegExp;

export interface ScriptRule extends CallScript {
  to?: NumberPattern;
  from?: NumberPattern;
}

/** Applied to the next requests/calls; each kind is consumed independently. */
export interface FaultInjection {
  /** The next N creates answer 429 / 20429 and create nothing. */
  create429?: number;
  /** The next N creates answer a 5xx (default 500); `created: true` creates the call anyway. */
  create5xx?: number | { count: number; status?: number; created?: boolean };
  /** The next N creates: the call is created and proceeds, the response waits `delayMs`. */
  acceptThenTimeout?: { count?: number; delayMs: number };
  /** Callback faults for the next N calls created (default 1). */
  callbacks?: { count?: number; faults: CallbackFault[] };
}

export interface TimelineEntry {
  status: LifecycleStatus;
  /** Epoch ms. */
  at: number;
}

export interface CallView {
  sid: string;
  accountSid: string;
  from: string;
  to: string;
  status: CallStatus;
  lifecycle: LifecycleStatus;
  outcome: Outcome;
  held: boolean;
  deleted: boolean;
  createdAt: number;
  startTime: number | null;
  answeredAt: number | null;
  endTime: number | null;
  queueTimeMs: number;
  durationSec: number | null;
  statusCallback: string | null;
  statusCallbackMethod: 'GET' | 'POST';
  statusCallbackEvents: CallbackEvent[];
  /** The voice app the call was created with (a later update does not change these). */
  url: string | null;
  method: 'GET' | 'POST';
  twiml: string | null;
  applicationSid: string | null;
  machineDetection: MachineDetection | null;
  asyncAmd: boolean;
  /** The AMD result once known (as reported), else null; always null without MachineDetection. */
  answeredBy: AnsweredBy | null;
  /** Voice URL requests made for this call (Url and FallbackUrl attempts). */
  voiceFetches: number;
  /** 11200 or 12100 when an application error ended the call, else null. */
  errorCode: number | null;
  timeline: TimelineEntry[];
}

export type CallbackResult = 'response' | 'connection-error' | 'timeout' | 'dropped' | 'omitted' | 'aborted';

export interface CallbackRecord {
  /** Global order in which attempts finished (or were decided, for dropped/omitted). */
  id: number;
  callSid: string;
  accountSid: string;
  /** `amd` for an AsyncAmdStatusCallback. */
  event: DeliveredEvent;
  callStatus: LifecycleStatus;
  /** null for `amd`, which carries no SequenceNumber. */
  sequenceNumber: number | null;
  method: 'GET' | 'POST';
  /** The URL requested (for GET, with the parameters in its query). */
  url: string;
  params: Record<string, string>;
  signature: string | null;
  idempotencyToken: string;
  attempt: number;
  faults: string[];
  result: CallbackResult;
  responseStatus: number | null;
  error: string | null;
  firedAt: number;
  sentAt: number | null;
  finishedAt: number;
}

export type VoiceRequestResult = 'response' | 'connection-error' | 'timeout' | 'invalid-twiml';

/** What the carrier did with the call after a voice request. */
export type VoiceAction = 'continue' | 'hangup' | 'fallback' | 'application-error' | 'call-ended';

/** One request for a call's voice app (its Url, or its FallbackUrl after a failure). */
export interface VoiceRequestRecord {
  /** Global order in which requests finished. */
  id: number;
  callSid: string;
  accountSid: string;
  /** `url` for the call's Url, `fallback` for its FallbackUrl. */
  source: 'url' | 'fallback';
  method: 'GET' | 'POST';
  /** The URL requested (for GET, with the parameters appended to its query). */
  url: string;
  params: Record<string, string>;
  signature: string;
  idempotencyToken: string;
  /** `response` is any HTTP answer with a usable body or a non-2xx status (see errorCode). */
  result: VoiceRequestResult;
  responseStatus: number | null;
  /** The body as received, cut to 4096 characters. */
  responseBody: string | null;
  /** 11200 (retrieval failure: non-2xx, connection error, timeout) or 12100 (not TwiML), else null. */
  errorCode: number | null;
  error: string | null;
  action: VoiceAction;
  /** When the request was sent (epoch ms). */
  at: number;
  finishedAt: number;
}

export interface LiveCount {
  live: number;
  peak: number;
}

export interface SandboxStats {
  perFrom: Record<string, LiveCount>;
  perAccount: Record<string, LiveCount>;
}

export interface ApiRequestRecord {
  at: number;
  method: string;
  path: string;
  query: Record<string, unknown>;
  form: Record<string, unknown>;
  status: number;
  errorCode: number | null;
}

export interface AccountConfig {
  accountSid: string;
  authToken: string;
  /** From numbers the account owns; omitted = any valid E.164 From is accepted. */
  ownedNumbers?: string[];
  callsPerSecond?: number;
  /** Queued calls beyond this answer 22005 (default: 24 h of calls at the CPS). */
  queueLimit?: number;
}

export interface CallFilter {
  accountSid?: string;
  from?: string;
  to?: string;
  /** Matches the lifecycle status (which includes `initiated`). */
  status?: LifecycleStatus | LifecycleStatus[];
  /** true = not yet ended, false = ended. */
  live?: boolean;
  sid?: string;
}
