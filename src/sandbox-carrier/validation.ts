import { errors } from './errors';
import type { CallbackEvent, MachineDetection } from './types';

/**
 * Create-request validation in Twilio's order, plus the sandbox's trigger table. The magic numbers
 * follow Twilio's test-credential numbers (+1500555000X) where Twilio has one.
 */
export const MAGIC_NUMBERS = {
  /** From that is always valid and owned, whatever ownedNumbers says (Twilio's test From). */
  validFrom: '+15005550006',
  invalidTo: '+15005550001',
  unreachableTo: '+15005550002',
  geoBlockedTo: '+15005550003',
  blockedTo: '+15005550004',
  invalidFrom: '+15005550001',
  notOwnedFrom: '+15005550007',
  queueFullFrom: '+15005550008',
} as const;

export const DEFAULT_GEO_BLOCKED_PREFIXES = ['+882', '+883'];

export const CALLBACK_EVENTS: readonly CallbackEvent[] = ['initiated', 'ringing', 'answered', 'completed'];

/** E.164, with North American numbers held to their 10-digit plan (NPA and NXX not starting 0/1). */
export function isE164(value: string): boolean {
  if (!/^\+[1-9]\d{6,14}$/.test(value)) return false;
  if (value.startsWith('+1')) return /^\+1[2-9]\d{2}[2-9]\d{6}$/.test(value);
  return true;
}

const isClient = (v: string) => /^client:[A-Za-z0-9_.\-@]+$/.test(v);
const isSip = (v: string) => /^sip:[^\s@]+@[^\s]+$/.test(v);

/** Absolute http(s) URL with a host name that has no underscore, as Twilio requires. */
export function isValidCallbackUrl(value: string): boolean {
  try {
    const u = new URL(value);
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.hostname.length > 0 && !u.hostname.includes('_');
  } catch {
    return false;
  }
}

export interface CreateRequest {
  to: string;
  from: string;
  url: string | null;
  method: 'GET' | 'POST';
  twiml: string | null;
  applicationSid: string | null;
  statusCallback: string | null;
  statusCallbackMethod: 'GET' | 'POST';
  statusCallbackEvents: CallbackEvent[];
  timeoutSec: number;
  timeLimitSec: number | null;
  fallbackUrl: string | null;
  fallbackMethod: 'GET' | 'POST';
  /** null = no answering-machine detection (also when SendDigits is given, as Twilio ignores it then). */
  machineDetection: MachineDetection | null;
  machineDetectionTimeoutSec: number;
  asyncAmd: boolean;
  asyncAmdStatusCallback: string | null;
  asyncAmdStatusCallbackMethod: 'GET' | 'POST';
}

export const MACHINE_DETECTION_MODES: readonly MachineDetection[] = ['Enable', 'DetectMessageEnd'];
export const DEFAULT_MACHINE_DETECTION_TIMEOUT_SEC = 30;

export interface ValidationContext {
  /** null = any valid From is owned. */
  ownedNumbers: ReadonlySet<string> | null;
  geoBlockedPrefixes: readonly string[];
  blockedNumbers: ReadonlySet<string>;
}

export type Form = Record<string, unknown>;

/** A form value as one string: Twilio reads the first of repeated keys. */
export function single(form: Form, key: string): string | undefined {
  const v = form[key];
  if (Array.isArray(v)) return typeof v[0] === 'string' ? v[0] : undefined;
  return typeof v === 'string' ? v : undefined;
}

function all(form: Form, key: string): string[] {
  const v = form[key];
  if (Array.isArray(v)) return v.filter((x): x is string => typeof x === 'string');
  return typeof v === 'string' ? [v] : [];
}

const method = (v: string | undefined): 'GET' | 'POST' => (v?.toUpperCase() === 'GET' ? 'GET' : 'POST');

/** Repeated keys (what the SDK sends) and one space- or comma-separated value are both accepted. */
export function parseEvents(form: Form): CallbackEvent[] {
  const raw = all(form, 'StatusCallbackEvent').flatMap((v) => v.split(/[\s,]+/)).filter((v) => v.length > 0);
  const events: CallbackEvent[] = [];
  for (const value of raw) {
    const event = CALLBACK_EVENTS.find((e) => e === value.toLowerCase());
    if (!event) throw errors.invalidEvent(value);
    if (!events.includes(event)) events.push(event);
  }
  return events.length > 0 ? events : ['completed'];
}

function intParam(form: Form, key: string): number | null {
  const v = single(form, key);
  if (v === undefined || !/^\d+$/.test(v.trim())) return null;
  return Number(v.trim());
}

interface AmdRequest {
  machineDetection: MachineDetection | null;
  machineDetectionTimeoutSec: number;
  asyncAmd: boolean;
  asyncAmdStatusCallback: string | null;
  asyncAmdStatusCallbackMethod: 'GET' | 'POST';
}

/** The AMD parameters; each bad value is a 21234, a bad AsyncAmdStatusCallback a 21205 like any URL. */
function validateAmd(form: Form): AmdRequest {
  const mode = single(form, 'MachineDetection')?.trim();
  let machineDetection: MachineDetection | null = null;
  if (mode) {
    machineDetection = MACHINE_DETECTION_MODES.find((m) => m.toLowerCase() === mode.toLowerCase()) ?? null;
    if (!machineDetection) throw errors.invalidMachineDetection('MachineDetection', mode, 'Enable or DetectMessageEnd');
  }
  const rawTimeout = single(form, 'MachineDetectionTimeout')?.trim();
  let machineDetectionTimeoutSec = DEFAULT_MACHINE_DETECTION_TIMEOUT_SEC;
  if (rawTimeout) {
    machineDetectionTimeoutSec = /^\d+$/.test(rawTimeout) ? Number(rawTimeout) : NaN;
    if (!(machineDetectionTimeoutSec >= 3 && machineDetectionTimeoutSec <= 59)) {
      throw errors.invalidMachineDetection('MachineDetectionTimeout', rawTimeout, 'whole seconds, 3-59');
    }
  }
  const rawAsync = single(form, 'AsyncAmd')?.trim().toLowerCase();
  if (rawAsync && rawAsync !== 'true' && rawAsync !== 'false') throw errors.invalidMachineDetection('AsyncAmd', rawAsync, 'true or false');
  const asyncAmdStatusCallback = single(form, 'AsyncAmdStatusCallback')?.trim() || null;
  if (asyncAmdStatusCallback && !isValidCallbackUrl(asyncAmdStatusCallback)) throw errors.invalidUrl('AsyncAmdStatusCallback', asyncAmdStatusCallback);
  const rawMethod = single(form, 'AsyncAmdStatusCallbackMethod')?.trim().toUpperCase();
  if (rawMethod && rawMethod !== 'GET' && rawMethod !== 'POST') throw errors.invalidMachineDetection('AsyncAmdStatusCallbackMethod', rawMethod, 'GET or POST');
  return {
    // Twilio ignores MachineDetection when SendDigits is given.
    machineDetection: single(form, 'SendDigits') ? null : machineDetection,
    machineDetectionTimeoutSec,
    asyncAmd: rawAsync === 'true',
    asyncAmdStatusCallback,
    asyncAmdStatusCallbackMethod: method(rawMethod),
  };
}

export function validateCreate(form: Form, ctx: ValidationContext): CreateRequest {
  const to = single(form, 'To')?.trim() ?? '';
  const from = single(form, 'From')?.trim() ?? '';
  if (!to) throw errors.noTo();
  if (!from) throw errors.noFrom();

  const toIsEndpoint = isClient(to) || isSip(to);
  if (!toIsEndpoint && (!isE164(to) || to === MAGIC_NUMBERS.invalidTo)) throw errors.invalidTo(to);
  const fromValid = isE164(from) || (toIsEndpoint && isClient(from));
  if (!fromValid || from === MAGIC_NUMBERS.invalidFrom) throw errors.invalidFrom(from);
  const owned = from === MAGIC_NUMBERS.validFrom || (from !== MAGIC_NUMBERS.notOwnedFrom && (ctx.ownedNumbers === null || ctx.ownedNumbers.has(from)));
  if (!owned) throw errors.fromNotOwned(from);

  const url = single(form, 'Url')?.trim() || null;
  const twiml = single(form, 'Twiml') || null;
  const applicationSid = single(form, 'ApplicationSid')?.trim() || null;
  if (!url && !twiml && !applicationSid) throw errors.noUrl();

  const statusCallbackEvents = parseEvents(form);

  if (url && !isValidCallbackUrl(url)) throw errors.invalidUrl('Url', url);
  if (applicationSid && !/^AP[0-9a-fA-F]{32}$/.test(applicationSid)) throw errors.invalidApplicationSid(applicationSid);
  for (const key of ['StatusCallback', 'FallbackUrl']) {
    const value = single(form, key)?.trim();
    if (value && !isValidCallbackUrl(value)) throw errors.invalidUrl(key, value);
  }
  const amd = validateAmd(form);

  if (to === MAGIC_NUMBERS.geoBlockedTo || ctx.geoBlockedPrefixes.some((p) => to.startsWith(p))) throw errors.geoBlocked(to);
  if (to === MAGIC_NUMBERS.blockedTo || ctx.blockedNumbers.has(to)) throw errors.blocked(to);
  if (to === MAGIC_NUMBERS.unreachableTo) throw errors.unreachable(to);

  // Twilio ignores the request's StatusCallback* when an ApplicationSid is given (the application's apply).
  const statusCallback = applicationSid ? null : single(form, 'StatusCallback')?.trim() || null;
  const timeout = intParam(form, 'Timeout');
  return {
    to,
    from,
    url,
    method: method(single(form, 'Method')),
    twiml: url ? null : twiml,
    applicationSid,
    statusCallback,
    statusCallbackMethod: method(single(form, 'StatusCallbackMethod')),
    statusCallbackEvents,
    timeoutSec: timeout === null || timeout === 0 ? 60 : Math.min(timeout, 600),
    timeLimitSec: intParam(form, 'TimeLimit'),
    // Like Method, the fallback belongs to the Url; an ApplicationSid brings its own.
    fallbackUrl: url && !applicationSid ? single(form, 'FallbackUrl')?.trim() || null : null,
    fallbackMethod: method(single(form, 'FallbackMethod')),
    ...amd,
  };
}
