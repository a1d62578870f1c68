import { InvalidArgumentError, type Command } from 'commander';
import { ApiClient, CliError } from './api-client';

/** What every command's action gets from the global options (flags, else the environment). */
export interface CliContext {
  client: ApiClient;
  json: boolean;
}

interface GlobalOptions {
  apiUrl: string;
  key?: string;
  json?: boolean;
}

export function contextOf(command: Command): CliContext {
  const opts = command.optsWithGlobals<GlobalOptions>();
  return { client: new ApiClient({ apiUrl: opts.apiUrl, key: opts.key }), json: Boolean(opts.json) };
}

/** A commander parser of a whole number in [min, max]. */
export function intOption(min: number, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`must be a whole number from ${min} to ${max}`);
    return n;
  };
}

/** A commander parser of a JSON value (for options given whole, such as a calling window). */
export function jsonOption(value: string): unknown {
  try {
    return JSON.parse(value) as unknown;
  } catch {
    throw new InvalidArgumentError('must be JSON');
  }
}

/** A comma-separated list. */
export function listOption(value: string): string[] {
  return value
    .split(',')
    .map((v) => v.trim())
    .filter(Boolean);
}

/** `--limit n` items, or every item with `--all`; what list commands page through. */
export function addPaging(command: Command): Command {
  return command.option('--limit <n>', 'at most this many items', intOption(1), 50).option('--all', 'every item (pages through the whole list)');
}

export function pagingMax(opts: { limit: number; all?: boolean }): number | undefined {
  return opts.all ? undefined : opts.limit;
}

/** `--voice-url` (with `--voice-method`) or `--twiml`: a voice app, as businesses and runs take it. */
export function addVoiceAppOptions(command: Command): Command {
  return command
    .option('--voice-url <url>', "the voice app's URL (Twilio fetches TwiML there; each lead's variables ride in its query)")
    .option('--voice-method <method>', 'GET or POST for --voice-url', 'POST')
    .option('--twiml <xml>', 'TwiML to play instead of a voice URL');
}

export function voiceAppOf(opts: { voiceUrl?: string; voiceMethod?: string; twiml?: string }): Record<string, string> | undefined {
  if (opts.voiceUrl && opts.twiml) throw new CliError('give --voice-url or --twiml, not both');
  if (opts.voiceUrl) return { url: opts.voiceUrl, method: (opts.voiceMethod ?? 'POST').toUpperCase() };
  if (opts.twiml) return { twiml: opts.twiml };
  return undefined;
}

/** `--always-open` or `--calling-window <json>`. */
export function addCallingWindowOptions(command: Command): Command {
  return command
    .option('--calling-window <json>', 'calling window as JSON, e.g. {"start":"09:00","end":"18:00","days":["mon","tue"]}', jsonOption)
    .option('--always-open', 'call at any hour (calling window {"alwaysOpen":true})');
}

export function callingWindowOf(opts: { callingWindow?: unknown; alwaysOpen?: boolean }): unknown {
  if (opts.alwaysOpen && opts.callingWindow !== undefined) throw new CliError('give --calling-window or --always-open, not both');
  return opts.alwaysOpen ? { alwaysOpen: true } : opts.callingWindow;
}

/** An object without its undefined fields (what a JSON body should hold). */
export function defined(fields: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined));
}
