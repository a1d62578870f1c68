import type { AnsweredBy, CallbackFault, CallScript, CreateFault, NumberPattern, Outcome, ScriptRule } from './types';

/** A script with every field decided, as one call will play it. */
export interface ResolvedScript {
  outcome: Outcome;
  dialMs: number;
  ringMs: number;
  /** False when ringMs is only the built-in default: a no-answer then rings for the request's Timeout. */
  ringMsExplicit: boolean;
  talkMs: number;
  /** Scripted AMD result; null = `human` when the request asks for detection. */
  answeredBy: AnsweredBy | null;
  amdMs: number;
  sipResponseCode: number | null;
  callbackFaults: CallbackFault[];
  responseDelayMs: number;
  createFault: CreateFault | null;
}

/** Tens of ms end to end, so a test suite can place hundreds of calls in seconds. */
export const BUILTIN_DEFAULT_SCRIPT = { outcome: 'completed', dialMs: 5, ringMs: 20, talkMs: 30, amdMs: 10 } as const;

/** Magic To numbers that pick an outcome without any setup (documented in docs/sandbox-carrier.md). */
export const MAGIC_OUTCOME_RULES: readonly ScriptRule[] = [
  { to: '+15005550200', outcome: 'busy' },
  { to: '+15005550201', outcome: 'no-answer' },
  { to: '+15005550202', outcome: 'failed' },
  { to: '+15005550203', outcome: 'hold' },
];

export const OUTCOMES: readonly Outcome[] = ['completed', 'busy', 'no-answer', 'failed', 'hold'];

export const ANSWERED_BY: readonly AnsweredBy[] = ['human', 'machine_start', 'machine_end_beep', 'machine_end_silence', 'machine_end_other', 'fax', 'unknown'];

type Matcher = (value: string) => boolean;

/** Exact text, a glob where `*` is any run of characters, `/regex/flags` text, or a RegExp. */
export function compilePattern(pattern: NumberPattern): Matcher {
  if (pattern instanceof RegExp) {
    const re = new RegExp(pattern.source, pattern.flags.replace(/[gy]/g, ''));
    return (v) => re.test(v);
  }
  const literal = /^\/(.+)\/([a-z]*)$/.exec(pattern);
  if (literal) {
    const re = new RegExp(literal[1] ?? '', (literal[2] ?? '').replace(/[gy]/g, ''));
    return (v) => re.test(v);
  }
  if (pattern.includes('*')) {
    const re = new RegExp(`^${pattern.split('*').map(escapeRegExp).join('.*')}$`);
    return (v) => re.test(v);
  }
  return (v) => v === pattern;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

interface CompiledRule {
  rule: ScriptRule;
  to: Matcher | null;
  from: Matcher | null;
}

function compileRule(rule: ScriptRule): CompiledRule {
  return { rule, to: rule.to === undefined ? null : compilePattern(rule.to), from: rule.from === undefined ? null : compilePattern(rule.from) };
}

/** Scripting precedence: the next-outcome queue, then the rules in order, then the magic numbers, then the default. */
export class ScriptBook {
  private rules: CompiledRule[] = [];
  private readonly magic = MAGIC_OUTCOME_RULES.map(compileRule);
  private defaultScript: CallScript = {};
  private queue: CallScript[] = [];

  constructor(
    private readonly initialRules: ScriptRule[] = [],
    private readonly initialDefault: CallScript = {},
  ) {
    this.reset();
  }

  setRules(rules: ScriptRule[], defaultScript?: CallScript): void {
    this.rules = rules.map(compileRule);
    if (defaultScript) this.defaultScript = defaultScript;
  }

  currentRules(): { rules: ScriptRule[]; defaultScript: CallScript; queued: CallScript[] } {
    return { rules: this.rules.map((r) => r.rule), defaultScript: this.defaultScript, queued: [...this.queue] };
  }

  queueOutcomes(outcomes: Array<Outcome | CallScript>): void {
    for (const o of outcomes) this.queue.push(typeof o === 'string' ? { outcome: o } : o);
  }

  /** Consumes one queued outcome when there is one, so call it once per accepted create. */
  resolve(to: string, from: string): ResolvedScript {
    const queued = this.queue.shift();
    if (queued) return this.merge(queued);
    const match = (r: CompiledRule) => (!r.to || r.to(to)) && (!r.from || r.from(from));
    const rule = this.rules.find(match) ?? this.magic.find(match);
    return this.merge(rule?.rule ?? {});
  }

  reset(): void {
    this.setRules(this.initialRules, this.initialDefault);
    this.queue = [];
  }

  private merge(specific: CallScript): ResolvedScript {
    const d = this.defaultScript;
    const ringMs = specific.ringMs ?? d.ringMs;
    return {
      outcome: specific.outcome ?? d.outcome ?? BUILTIN_DEFAULT_SCRIPT.outcome,
      dialMs: specific.dialMs ?? d.dialMs ?? BUILTIN_DEFAULT_SCRIPT.dialMs,
      ringMs: ringMs ?? BUILTIN_DEFAULT_SCRIPT.ringMs,
      ringMsExplicit: ringMs !== undefined,
      talkMs: specific.talkMs ?? d.talkMs ?? BUILTIN_DEFAULT_SCRIPT.talkMs,
      answeredBy: specific.answeredBy ?? d.answeredBy ?? null,
      amdMs: specific.amdMs ?? d.amdMs ?? BUILTIN_DEFAULT_SCRIPT.amdMs,
      sipResponseCode: specific.sipResponseCode ?? d.sipResponseCode ?? null,
      callbackFaults: [...(d.callbackFaults ?? []), ...(specific.callbackFaults ?? [])],
      responseDelayMs: specific.responseDelayMs ?? d.responseDelayMs ?? 0,
      createFault: specific.createFault ?? d.createFault ?? null,
    };
  }
}
