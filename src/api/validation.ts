import { parsePhoneNumberFromString } from 'libphonenumber-js/max';
import { z } from 'zod';
import { E164_PATTERN } from '../db/statuses';
import '../phone-patterns';
import { HttpError } from './errors';

const E164 = new RegExp(E164_PATTERN);

export const E164_PHONE_MESSAGE = 'must be a valid phone number in E.164 format, for example +14155550100';

/** A phone number in E.164, checked against real numbering plans (libphonenumber's full metadata). */
export function isE164Phone(value: string): boolean {
  if (!E164.test(value)) return false;
  const parsed = parsePhoneNumberFromString(value);
  return parsed !== undefined && parsed.isValid() && parsed.number === value;
}

export const e164Phone = z.string().refine(isE164Phone, E164_PHONE_MESSAGE);

export const uuidParam = z.string().uuid();

/** Parses with a zod schema or answers 400 naming every problem with its path. */
export function parseOr400<T extends z.ZodType>(schema: T, value: unknown, what = 'request body'): z.output<T> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw new HttpError(
    400,
    'invalid_request',
    `invalid ${what}: ${result.error.issues.map((i) => `${i.path.join('.') || what}: ${i.message}`).join('; ')}`,
    result.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
  );
}

export function parseId(value: unknown, what: string): string {
  const result = uuidParam.safeParse(value);
  if (!result.success) throw new HttpError(404, 'not_found', `${what} ${String(value)} does not exist`);
  return result.data;
}

/** NUL (which Postgres text cannot hold) or a lone UTF-16 surrogate (which has no UTF-8 form). */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export function isStorableText(value: string): boolean {
  return !value.includes('\u0000') && !LONE_SURROGATE.test(value);
}

/** Text Postgres can store: no NUL, no lone surrogate (for form bodies; JSON bodies are checked whole in app.ts). */
export const storableText = z.string().refine(isStorableText, 'must not contain NUL characters or unpaired UTF-16 surrogates');

/** Deeper than any body Outdial takes: refused before anything walks it. */
export const MAX_JSON_DEPTH = 32;

/**
 * What is wrong with a parsed JSON body before any route sees it: nesting deeper than
 * MAX_JSON_DEPTH, or a string (or object key) Postgres could not store. Iterative, so no body can
 * exhaust the stack.
 */
export function bodyProblem(body: unknown): { code: 'too_deep' | 'invalid_text'; path: string } | null {
  const pending: { value: unknown; path: string[] }[] = [{ value: body, path: [] }];
  while (pending.length > 0) {
    const { value, path } = pending.pop()!;
    if (path.length > MAX_JSON_DEPTH) return { code: 'too_deep', path: path.slice(0, 4).join('.') + '…' };
    if (typeof value === 'string') {
      if (!isStorableText(value)) return { code: 'invalid_text', path: path.join('.') || '(body)' };
    } else if (Array.isArray(value)) {
      value.forEach((v, i) => pending.push({ value: v, path: [...path, String(i)] }));
    } else if (value && typeof value === 'object') {
      for (const [key, v] of Object.entries(value)) {
        if (!isStorableText(key)) return { code: 'invalid_text', path: [...path, '(a key)'].join('.') };
        pending.push({ value: v, path: [...path, key] });
      }
    }
  }
  return null;
}

/** `Idempotency-Key`: 1 to 255 printable ASCII characters (a UUID is a good choice). */
export function parseIdempotencyHeader(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (!/^[\x21-\x7e]{1,255}$/.test(value)) {
    throw new HttpError(400, 'invalid_idempotency_key', 'Idempotency-Key must be 1 to 255 printable ASCII characters without spaces, for example a UUID');
  }
  return value;
}
