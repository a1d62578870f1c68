/**
 * The benchmark suite (issue 14): Outdial side by side with a polling dialer, measured at the sandbox carrier.
 *
 *   npm run bench [-- --only refill,throughput,freed-slot,hundred-k,throughput-2x2] [--full] [--json path]
 *                 [--temporal-in-memory] [--hundred-k-leads 100000]
 *
 * The default run (refill, throughput, freed-slot) takes a few minutes; hundred-k (~20 min) and
 * throughput-2x2 run with --only or --full. Outdial runs as OS processes on a stack of its own
 * (bench/lib/process-stack.ts: embedded Postgres, the Temporal dev server, one API and one worker;
 * two of each for throughput-2x2); the polling dialers run on the same Postgres and carrier, one at
 * a time after Outdial, so every figure is comparable on this machine. Prints one markdown table and
 * writes it with the details as JSON (default bench-results/latest.json).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { envFromFlags, say, startProcessStack, stopOnInterrupt, type ProcessStack } from '../lib/process-stack';
import { DIALERS } from './dialers';
import { SCENARIOS, type Row, type StackKind } from './scenarios';

const STACKS: Record<StackKind, { apis: number; workers: number }> = {
  'one-api-one-worker': { apis: 1, workers: 1 },
  'two-apis-two-workers': { apis: 2, workers: 2 },
};

function table(rows: Row[]): string {
  const cell = (v: number | string | undefined) => (v === undefined ? '—' : String(v));
  const lines = [`| scenario | metric | ${DIALERS.join(' | ')} | target | met? |`, `| --- | --- | ${DIALERS.map(() => '---').join(' | ')} | --- | --- |`];
  for (const r of rows) {
    const met = r.met === null ? '' : r.met ? 'yes' : 'no';
    lines.push(`| ${r.scenario} | ${r.metric} | ${DIALERS.map((d) => cell(r.values[d])).join(' | ')} | ${r.target} | ${met} |`);
  }
  return lines.join('\n');
}

async function main() {
  const { values } = parseArgs({ options: { only: { type: 'string' }, full: { type: 'boolean', default: false }, json: { type: 'string', default: 'bench-results/latest.json' }, 'temporal-in-memory': { type: 'boolean', default: false }, 'hundred-k-leads': { type: 'string', default: '100000' }, env: { type: 'string', multiple: true, default: [] } } });
  const only = values.only?.split(',').map((s) => s.trim());
  const unknown = only?.filter((name) => !SCENARIOS.some((s) => s.name === name)) ?? [];
  if (unknown.length) throw new Error(`--only: unknown scenario ${unknown.join(', ')}; known: ${SCENARIOS.map((s) => s.name).join(', ')}`);
  const chosen = SCENARIOS.filter((s) => (only ? only.includes(s.name) : values.full || s.byDefault));

  const began = Date.now();
  const rows: Row[] = [];
  const detail: Record<string, unknown> = {};
  let stack: ProcessStack | null = null;
  stopOnInterrupt(() => stack);
  for (const kind of Object.keys(STACKS) as StackKind[]) {
    const scenarios = chosen.filter((s) => s.stack === kind);
    if (!scenarios.length) continue;
    say(`starting a stack: ${STACKS[kind].apis} API, ${STACKS[kind].workers} worker`);
    stack = await startProcessStack({ ...STACKS[kind], temporalInMemory: values['temporal-in-memory'], env: envFromFlags(values.env) });
    try {
      for (const s of scenarios) {
        say(`${s.name}`);
        rows.push(...(await s.run(stack, detail, { hundredKLeads: Number(values['hundred-k-leads']) })));
      }
    } finally {
      await stack.stop();
      stack = null;
    }
  }
  const seconds = Math.round((Date.now() - began) / 1000);
  const output = table(rows);
  console.log(output);
  const machine = `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'unknown CPU'}`;
  console.log(`\n${machine}; ${seconds} s; scenarios: ${chosen.map((s) => s.name).join(', ')}`);
  mkdirSync(path.dirname(values.json), { recursive: true });
  writeFileSync(values.json, `${JSON.stringify({ at: new Date(began).toISOString(), machine, seconds, rows, detail }, null, 2)}\n`);
  say(`written: ${values.json}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
