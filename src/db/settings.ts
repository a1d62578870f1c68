import type { OnMachinePolicy } from './statuses';

/**
 * The shapes of the campaign settings kept as JSON columns (a business's default voice app, a run's
 * voice app and answering-machine detection). The API validates them; these are what is stored.
 */

/** What a call does once answered, exactly as Twilio's Calls API takes it: one of Url, Twiml, ApplicationSid. */
export type VoiceApp = { url: string; method: 'GET' | 'POST' } | { twiml: string } | { applicationSid: string };

/** Twilio's answering-machine detection, and what Outdial does with a machine. */
export interface MachineDetection {
  mode: 'Enable' | 'DetectMessageEnd';
  /** MachineDetectionTimeout, seconds (Twilio: 3 to 59, default 30). */
  timeoutSeconds: number;
  /** AsyncAmd: the call connects at once and the result arrives on Outdial's AMD callback. */
  async: boolean;
  onMachine: OnMachinePolicy;
}

/** A lead's own fields for the voice app: a small flat map of strings. */
export type LeadVariables = Record<string, string>;

export const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

/**
 * When a lead may be called, in the lead's own local time: on these weekdays, from `start` to `end`
 * (`HH:MM` or `HH:MM:SS`; an end before the start crosses midnight), never on a blackout date
 * (`YYYY-MM-DD`, local). `{ alwaysOpen: true }` calls around the clock.
 */
export type CallingWindow = { days: Weekday[]; start: string; end: string; blackoutDates: string[] } | { alwaysOpen: true };

/** The US federal quiet hours: no calls before 08:00 or after 21:00 in the callee's local time. */
export const DEFAULT_CALLING_WINDOW: CallingWindow = { days: [...WEEKDAYS], start: '08:00', end: '21:00', blackoutDates: [] };

/** Outcomes a run may retry: Twilio's terminal statuses of an unanswered call, and a machine (with AMD). */
export const RETRYABLE_OUTCOMES = ['busy', 'no-answer', 'failed', 'canceled', 'machine'] as const;
export type RetryableOutcome = (typeof RETRYABLE_OUTCOMES)[number];

/** For one outcome: at most `maxAttempts` attempts of a lead in all, the n-th retry `delaySeconds × backoff^(n−1)` after the last ended. */
export interface RetryRule {
  maxAttempts: number;
  delaySeconds: number;
  backoff: number;
}

export type RetryPolicy = Partial<Record<RetryableOutcome, RetryRule>>;
