import { z } from 'zod';
import { ANSWERED_BY, OUTCOMES } from './scripts';
import type { AnsweredBy, CallbackFault, CallScript, FaultInjection, Outcome, ReleaseOutcome, ScriptRule } from './types';

/**
 * Shapes of the admin inputs. The programmatic API validates with the same schemas as the HTTP
 * one, so a bad script is refused at setup rather than misbehaving mid-test.
 */

const ms = z.number().int().min(0);
const count = z.number().int().min(0);
const events = z.array(z.enum(['initiated', 'ringing', 'answered', 'completed', 'amd'])).optional();
const outcome = z.enum(OUTCOMES as [Outcome, ...Outcome[]]);

export const callbackFaultSchema: z.ZodType<CallbackFault> = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('drop'), events }),
  z.strictObject({ kind: z.literal('duplicate'), events }),
  z.strictObject({ kind: z.literal('delay'), ms, events }),
  z.strictObject({ kind: z.literal('bad-signature'), events }),
  z.strictObject({ kind: z.literal('tamper'), events }),
  z.strictObject({ kind: z.literal('reorder') }),
  z.strictObject({ kind: z.literal('omit-final') }),
]);

const createFault = z.strictObject({
  status: z
    .number()
    .int()
    .refine((s) => s === 429 || (s >= 500 && s <= 599), 'must be 429 or a 5xx'),
  created: z.boolean().optional(),
});

const scriptShape = {
  outcome: outcome.optional(),
  dialMs: ms.optional(),
  ringMs: ms.optional(),
  talkMs: ms.optional(),
  answeredBy: z.enum(ANSWERED_BY as [AnsweredBy, ...AnsweredBy[]]).optional(),
  amdMs: ms.optional(),
  sipResponseCode: z.number().int().min(100).max(699).optional(),
  callbackFaults: z.array(callbackFaultSchema).optional(),
  responseDelayMs: ms.optional(),
  createFault: createFault.optional(),
};

export const callScriptSchema: z.ZodType<CallScript> = z.strictObject(scriptShape);

const pattern = z.union([z.string().min(1), z.instanceof(RegExp)]);
export const scriptRuleSchema: z.ZodType<ScriptRule> = z.strictObject({ ...scriptShape, to: pattern.optional(), from: pattern.optional() });

export const scriptsBodySchema = z.strictObject({
  rules: z.array(scriptRuleSchema),
  defaultScript: callScriptSchema.optional(),
});

export const outcomesBodySchema = z.strictObject({ outcomes: z.array(z.union([outcome, callScriptSchema])) });

export const faultInjectionSchema: z.ZodType<FaultInjection> = z.strictObject({
  create429: count.optional(),
  create5xx: z
    .union([count, z.strictObject({ count, status: z.number().int().min(500).max(599).optional(), created: z.boolean().optional() })])
    .optional(),
  acceptThenTimeout: z.strictObject({ count: count.optional(), delayMs: ms }).optional(),
  callbacks: z.strictObject({ count: count.optional(), faults: z.array(callbackFaultSchema) }).optional(),
});

export const releaseBodySchema = z.strictObject({
  outcome: z.enum(['completed', 'busy', 'no-answer', 'failed'] as [ReleaseOutcome, ...ReleaseOutcome[]]).optional(),
});

export const limitsBodySchema = z.strictObject({
  callsPerSecond: z.number().positive().max(100_000).optional(),
  queueLimit: z.number().int().min(0).nullable().optional(),
});

export const numberListSchema = z.array(z.string().regex(/^\+[1-9]\d{1,14}$/, 'must be an E.164 number'));
export const prefixListSchema = z.array(z.string().regex(/^\+\d{1,14}$/, 'must be a prefix such as +882'));
export const blockingBodySchema = z.strictObject({ numbers: numberListSchema.optional(), geoPrefixes: prefixListSchema.optional() });

export class AdminInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AdminInputError';
  }
}

export function parseAdmin<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const where = issue && issue.path.length > 0 ? ` at ${issue.path.join('.')}` : '';
  throw new AdminInputError(`invalid ${what}${where}: ${issue?.message ?? 'invalid input'}`);
}
