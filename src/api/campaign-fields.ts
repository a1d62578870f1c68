import { z } from 'zod';
import { MAX_TWIML_LENGTH, RESERVED_VARIABLE_PREFIX, VARIABLE_KEY } from '../calls/instructions';
import { ON_MACHINE_POLICIES } from '../db/statuses';
import { RETRYABLE_OUTCOMES, WEEKDAYS, type CallingWindow, type MachineDetection, type RetryPolicy, type VoiceApp } from '../db/settings';
import { isTimeZone } from '../domain/runs/lead-time-zones';

/** The request fields that say what a call does: voice app, per-lead variables, answering-machine detection. */

/** An absolute http(s) URL whose host has no underscore: what Twilio accepts as a voice URL. */
const voiceUrl = z
  .string()
  .max(2000)
  .refine((value) => {
    try {
      const u = new URL(value);
      return (u.protocol === 'https:' || u.protocol === 'http:') && u.hostname.length > 0 && !u.hostname.includes('_');
    } catch {
      return false;
    }
  }, 'must be an absolute http(s) URL whose host name has no underscore');

/** Exactly one of url (with its method), twiml or applicationSid, as Twilio's Calls API takes them. */
export const voiceAppField = z
  .object({
    url: voiceUrl.optional(),
    method: z.enum(['GET', 'POST']).optional(),
    twiml: z
      .string()
      .min(1)
      .max(MAX_TWIML_LENGTH, `must be at most ${MAX_TWIML_LENGTH} characters (Twilio's limit)`)
      .refine((t) => /^\s*(<\?xml[^>]*>\s*)?<Response[\s>/]/.test(t), 'must be TwiML: a <Response> document')
      .optional(),
    applicationSid: z.string().regex(/^AP[0-9a-fA-F]{32}$/, 'must be a TwiML application SID (AP + 32 hex digits)').optional(),
  })
  .strict()
  .superRefine((app, ctx) => {
    const given = (['url', 'twiml', 'applicationSid'] as const).filter((k) => app[k] !== undefined);
    if (given.length !== 1) ctx.addIssue({ code: 'custom', message: 'give exactly one of url, twiml or applicationSid' });
    if (app.method !== undefined && app.url === undefined) ctx.addIssue({ code: 'custom', path: ['method'], message: 'goes with url only' });
  })
  .transform((app): VoiceApp => {
    if (app.url !== undefined) return { url: app.url, method: app.method ?? 'POST' };
    if (app.twiml !== undefined) return { twiml: app.twiml };
    return { applicationSid: app.applicationSid ?? '' };
  });

export const MAX_VARIABLES = 20;
export const MAX_VARIABLE_LENGTH = 500;
/** Encoded into the voice URL's query, so bounded as a whole too. */
export const MAX_VARIABLES_ENCODED_LENGTH = 2000;

/** What is wrong with a lead's variables (each problem with the key it is about, if one), in plain code: a CSV checks every row with it. */
export function variablesProblems(vars: Record<string, string>): { key?: string; message: string }[] {
  const problems: { key?: string; message: string }[] = [];
  const keys = Object.keys(vars);
  if (keys.length > MAX_VARIABLES) problems.push({ message: `at most ${MAX_VARIABLES} variables` });
  let encoded = 0;
  for (const key of keys) {
    const value = vars[key]!;
    if (value.length > MAX_VARIABLE_LENGTH) problems.push({ key, message: `a value must be at most ${MAX_VARIABLE_LENGTH} characters` });
    if (!VARIABLE_KEY.test(key)) problems.push({ key, message: 'a key must be lowercase letters, digits and _, starting with a letter, at most 40 characters' });
    else if (key.startsWith(RESERVED_VARIABLE_PREFIX)) problems.push({ key, message: `keys starting ${RESERVED_VARIABLE_PREFIX} are Outdial's own` });
    encoded += encodeURIComponent(key).length + encodeURIComponent(value).length + 2;
  }
  if (encoded > MAX_VARIABLES_ENCODED_LENGTH) problems.push({ message: `the variables must fit in ${MAX_VARIABLES_ENCODED_LENGTH} characters once URL-encoded` });
  return problems;
}

export const variablesField = z.record(z.string(), z.string()).superRefine((vars, ctx) => {
  for (const { key, message } of variablesProblems(vars)) ctx.addIssue({ code: 'custom', message, ...(key === undefined ? {} : { path: [key] }) });
});

/** Twilio's MachineDetection and its timeout, sync or async, and what to do on a machine. */
export const machineDetectionField = z
  .object({
    mode: z.enum(['Enable', 'DetectMessageEnd']),
    timeoutSeconds: z.number().int().min(3).max(59).default(30),
    async: z.boolean().default(false),
    onMachine: z.enum(ON_MACHINE_POLICIES).default('continue'),
  })
  .strict() satisfies z.ZodType<MachineDetection, unknown>;

/** An IANA time-zone name, for example America/Phoenix. */
export const TIME_ZONE_MESSAGE = 'must be an IANA time zone, for example America/Phoenix';

export function isTimeZoneName(value: string): boolean {
  return value.length <= 64 && isTimeZone(value);
}

export const timeZoneField = z.string().refine(isTimeZoneName, TIME_ZONE_MESSAGE);

const localTime = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d)?$/, 'must be a local time HH:MM or HH:MM:SS');
const localDate = z.string().regex(/^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/, 'must be a date YYYY-MM-DD');

/** Weekdays, local start and end (an end before the start crosses midnight), blackout dates; or `{ alwaysOpen: true }`. */
export const callingWindowField = z.union([
  z.object({ alwaysOpen: z.literal(true) }).strict(),
  z
    .object({
      days: z.array(z.enum(WEEKDAYS)).min(1).max(7).default([...WEEKDAYS]),
      start: localTime,
      end: localTime,
      blackoutDates: z.array(localDate).max(366).default([]),
    })
    .strict()
    .refine((w) => w.start !== w.end, { message: 'start and end must differ', path: ['end'] })
    .transform((w) => ({ ...w, days: [...new Set(w.days)] })),
]) satisfies z.ZodType<CallingWindow, unknown>;

/** An instant with its offset, for example 2026-12-01T09:00:00-05:00. */
export const INSTANT_MESSAGE = 'must be an ISO 8601 instant with an offset between the years 1970 and 9999, for example 2026-12-01T15:00:00-05:00';
/** Years Postgres and every client read alike (Postgres has no year 0, which ISO 8601 allows). */
const inInstantRange = (at: Date) => at.getUTCFullYear() >= 1970 && at.getUTCFullYear() <= 9999;
export const instantField = z.iso
  .datetime({ offset: true, error: INSTANT_MESSAGE })
  .transform((v) => new Date(v))
  .refine(inInstantRange, INSTANT_MESSAGE);

const retryRule = z
  .object({
    maxAttempts: z.number().int().min(1).max(10),
    delaySeconds: z.number().int().min(0).max(7 * 86_400),
    backoff: z.number().min(1).max(10).default(1),
  })
  .strict();

/** Per outcome (busy, no-answer, failed, canceled, machine): attempts in all, the delay before the next, its backoff. */
export const retriesField = z.partialRecord(z.enum(RETRYABLE_OUTCOMES), retryRule) satisfies z.ZodType<RetryPolicy, unknown>;
