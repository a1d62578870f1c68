import { parsePhoneNumberFromString } from 'libphonenumber-js/max';
import { z } from 'zod';
import { E164_PATTERN } from '../db/statuses';
import { HttpError } from './errors';

const E164 = new RegExp(E164_PATTERN);

/** A phone number in E.164, checked against real numbering plans (libphonenumber's full metadata). */
export const e164Phone = z.string().refine((value) => {
  if (!E164.test(value)) return false;
  const parsed = parsePhoneNumberFromString(value);
  return parsed !== undefined && parsed.isValid() && parsed.number === value;
}, 'must be a valid phone number in E.164 format, for example +14155550100');

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
