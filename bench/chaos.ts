/**
 * A chaos run (issue 13 item 6): kills, restarts and carrier faults together, judged at the sandbox carrier.
 *
 *   npx tsx bench/chaos.ts [--seed 1] [--leads-per-run 40] [--chaos-s 60] [--timeout-s 900] [--env KEY=VALUE ...] [--dump DIR]
 *
 * The stack of bench/lib/process-stack.ts with three workers. Four businesses (limits 3, 2, 5, 1),
 * two runs each of `--leads-per-run` leads, all started together; calls talk 300-500 ms. During the
 * first `--chaos-s` seconds, on a schedule drawn from `--seed`: a worker SIGKILLed every 2-5 s and a
 * replacement started (once all three at the same moment; a kill that finds every worker still
 * starting waits for one and moves the later kills back), the API SIGKILLed and restarted, Postgres
 * and Temporal each stopped and restarted, and a carrier fault every 0.3-1.2 s (create answered 429,
 * 500 or 503; answered 5xx though created; accepted with the answer held past the client's timeout;
 * callbacks dropped, duplicated or badly signed). Then it waits for every run to finish and checks:
 *   (a) at the carrier, no business ever had more calls live at once than its limit;
 *   (b) at the carrier, every lead number was created exactly once;
 *   (c) the API shows every run completed, 0 active calls per business, and no call held for an operator;
 *   (d) no callback was answered 5xx except while Postgres was down.
 * Prints the tables and exits 1 if a check fails. Outdial runs with its defaults unless `--env` says.
 * `--dump DIR` keeps, for a post-mortem, the processes' logs, the faults as made, the carrier's calls,
 * callbacks and requests, and Outdial's calls table.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { leadPhones } from '../test/helpers/outdial';
import { callbacks5xxOutside, countDials, idleWithLeadsLeft, peakLive } from './chaos/checks';
import { CARRIER_FAULTS, between, faultSchedule, prng, type ScheduledFault } from './chaos/schedule';
import { adminApi as api, say, startProcessStack, stopOnInterrupt, type ProcessStack as Stack, envFromFlags } from './lib/process-stack';

const LIMITS = [3, 2, 5, 1];
const RUNS_PER_BUSINESS = 2;
const WORKERS = 3;
const FINAL_RUN_STATUSES = ['completed', 'canceled', 'failed'];
/** After Postgres is back, the API's pool may still answer a callback from a broken connection. */
const POSTGRES_GRACE_MS = 2_000;

interface Business {
  id: string;
  callerId: string;
  limit: number;
  runIds: string[];
  leads: string[];
}

interface RunState {
  id: string;
  status: string;
  startedAt: string | null;
  finishedAt: string | null;
  jobs: Record<string, number>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));
const seconds = (ms: number) => (ms / 1000).toFixed(1);

/** What the API says at the end: every run, each business's active calls, the held calls. */
async function apiView(stack: Stack, businesses: Business[]) {
  const runs = await Promise.all(businesses.flatMap((b) => b.runIds.map((id) => api<{ run: RunState }>(stack, 'GET', `/v1/runs/${id}`).then((r) => r.run))));
  const active = await Promise.all(businesses.map((b) => api<{ business: { activeCalls: number } }>(stack, 'GET', `/v1/businesses/${b.id}`).then((r) => r.business.activeCalls)));
  const held = (await api<{ data: unknown[] }>(stack, 'GET', '/v1/held-calls')).data;
  return { runs, active, held };
}
type ApiView = Awaited<ReturnType<typeof apiView>>;
const settled = (v: ApiView) => v.runs.every((r) => FINAL_RUN_STATUSES.includes(r.status)) && v.active.every((n) => n === 0) && v.held.length === 0;

/** Makes the scheduled faults; `finished()` stops it before the next one (an outage in progress is ended first). */
class Chaos {
  readonly made = new Map<string, number>();
  /** Each fault made: when (ms from the start) it began and ended. */
  readonly log: { kind: string; began: number; ended: number }[] = [];
  readonly postgresDown: [number, number][] = [];
  /** Carrier faults no create or call had consumed when the chaos ended (dropped then, so none fires after it). */
  unconsumed = { create: 0, callbacks: 0 };
  private replacements = new Set<Promise<void>>();

  constructor(
    private readonly stack: Stack,
    private readonly start: number,
    private readonly chaosMs: number,
    private readonly finished: () => boolean,
  ) {}

  private count(kind: string) {
    this.made.set(kind, (this.made.get(kind) ?? 0) + 1);
  }

  /** Starts a replacement worker, as a supervisor would; retried while Temporal or Postgres is down. */
  private replaceWorker() {
    const started = (async () => {
      for (let attempt = 1; ; attempt++) {
        try {
          await this.stack.startWorker();
          return;
        } catch (err) {
          if (attempt >= 30) throw err;
          await sleep(1_000);
        }
      }
    })().catch((err: unknown) => {
      say(`replacement worker: ${(err as Error).message}`);
    });
    this.replacements.add(started);
    void started.finally(() => this.replacements.delete(started));
  }

  private async make(fault: ScheduledFault) {
    const { stack } = this;
    const began = Date.now() - this.start;
    switch (fault.kind) {
      case 'worker-kill': {
        // Every worker may still be starting (after the kill of all three): the kill waits for one.
        while (!stack.workers.length && this.replacements.size) await Promise.race([...this.replacements]);
        const victim = stack.workers[fault.victim % Math.max(1, stack.workers.length)];
        if (!victim) return this.count('worker-kill-skipped'); // no worker left to start (a replacement failed)
        await stack.killWorker(victim);
        this.replaceWorker();
        break;
      }
      case 'all-workers-kill': {
        await Promise.all([...this.replacements]); // all three up, so all three die together
        const victims = [...stack.workers];
        await Promise.all(victims.map((w) => stack.killWorker(w)));
        for (const _ of victims) this.replaceWorker();
        say(`killed all ${victims.length} workers at once`);
        break;
      }
      case 'api-kill':
        stack.api.child.kill('SIGKILL');
        await stack.api.exited;
        await sleep(fault.downMs);
        await stack.startApi();
        break;
      case 'postgres-restart': {
        const down = Date.now();
        await stack.postgres.stop();
        await sleep(fault.downMs);
        await stack.restartPostgres();
        this.postgresDown.push([down, Date.now() + POSTGRES_GRACE_MS]);
        break;
      }
      case 'temporal-restart':
        await stack.temporal.stop();
        await sleep(fault.downMs);
        await stack.restartTemporal();
        break;
      default:
        stack.carrier.injectFaults(fault.injection);
    }
    this.count(fault.kind);
    this.log.push({ kind: fault.kind, began, ended: Date.now() - this.start });
    if (!CARRIER_FAULTS.some((f) => f.kind === fault.kind)) say(`${seconds(Date.now() - this.start)} s: ${fault.kind} done`);
  }

  /**
   * One track's faults in order, each at its offset (a track waits for its previous fault to end).
   * `keepGaps`: a fault that ends late (a kill waiting for a worker to start) moves the later ones
   * back, so each keeps its gap after the one before and kills never come in a burst.
   */
  private async track(faults: ScheduledFault[], keepGaps = false) {
    let late = 0;
    for (const fault of faults) {
      await sleep(this.start + fault.at + late - Date.now());
      if (this.finished()) return;
      await this.make(fault);
      if (keepGaps) late = Math.max(late, Date.now() - (this.start + fault.at));
    }
  }

  /**
   * The carrier's faults, then, when the chaos ends, those still queued are dropped: a fault made
   * while the runs were idle (recovering from a kill) would otherwise hit the first creates after
   * the chaos, and the time after it would not measure recovery alone.
   */
  private async carrierTrack(faults: ScheduledFault[]) {
    await this.track(faults);
    // Runs that all finished early end the chaos then; the verdict does not wait out the window.
    while (!this.finished() && Date.now() < this.start + this.chaosMs) await sleep(Math.min(1_000, this.start + this.chaosMs - Date.now()));
    const dropped = this.stack.carrier.clearFaults();
    this.unconsumed = { create: dropped.create.length, callbacks: dropped.callbacks.length };
  }

  /** Workers, servers and the carrier as three concurrent tracks; resolves when all are done and workers replaced. */
  async run(schedule: ScheduledFault[]) {
    const isWorker = (f: ScheduledFault) => f.kind === 'worker-kill' || f.kind === 'all-workers-kill';
    const isServer = (f: ScheduledFault) => f.kind === 'api-kill' || f.kind === 'postgres-restart' || f.kind === 'temporal-restart';
    await Promise.all([
      this.track(schedule.filter(isWorker), true),
      this.track(schedule.filter(isServer)),
      this.carrierTrack(schedule.filter((f) => !isWorker(f) && !isServer(f))),
    ]);
    while (this.replacements.size) await Promise.all([...this.replacements]);
  }
}

/** The post-mortem files of `--dump` (times in ms from the start where ours). */
async function writeDump(dir: string, stack: Stack, start: number, faults: Chaos['log'], businesses: Business[]) {
  const write = (name: string, data: unknown) => writeFileSync(path.join(dir, name), JSON.stringify(data, null, 1));
  write('meta.json', { start, businesses });
  write('faults.json', faults);
  write('carrier-calls.json', stack.carrier.calls());
  write('carrier-callbacks.json', stack.carrier.callbacks());
  write('carrier-requests.json', stack.carrier.requests());
  const db = new pg.Client({ connectionString: stack.postgres.databaseUrl });
  await db.connect();
  try {
    write('outdial-calls.json', (await db.query('SELECT * FROM calls WHERE business_id = ANY($1) ORDER BY created_at', [businesses.map((b) => b.id)])).rows);
  } finally {
    await db.end();
  }
  say(`post-mortem files in ${dir}`);
}

function table(header: string[], rows: (string | number)[][]): string {
  return [`| ${header.join(' | ')} |`, `| ${header.map(() => '---').join(' | ')} |`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

async function main() {
  const { values } = parseArgs({
    options: {
      seed: { type: 'string', default: '1' },
      'leads-per-run': { type: 'string', default: '40' },
      'chaos-s': { type: 'string', default: '60' },
      'timeout-s': { type: 'string', default: '900' },
      env: { type: 'string', multiple: true, default: [] },
      dump: { type: 'string' },
    },
  });
  const seed = Number(values.seed);
  const leadsPerRun = Number(values['leads-per-run']);
  const chaosMs = Number(values['chaos-s']) * 1000;
  const timeoutMs = Number(values['timeout-s']) * 1000;
  for (const [name, n] of [['--seed', seed], ['--leads-per-run', leadsPerRun], ['--chaos-s', chaosMs], ['--timeout-s', timeoutMs]] as const) {
    if (!Number.isInteger(n) || n < 0 || (name === '--leads-per-run' && (n < 1 || n > 9000))) throw new Error(`${name}: a whole number is needed (leads 1-9000)`);
  }
  const env = envFromFlags(values.env);
  // A held create answer comes 5 s after the client has given up on it (Outdial's default: 10 s).
  const lateAnswerMs = Number(env.TWILIO_REQUEST_TIMEOUT_MS ?? 10_000) + 5_000;
  const schedule = faultSchedule({ seed, chaosMs, lateAnswerMs });

  let stack: Stack | null = null;
  const interrupted = stopOnInterrupt(() => stack);
  let failed = false;
  try {
    const dump = values.dump;
    if (dump) mkdirSync(dump, { recursive: true });
    stack = await startProcessStack({ workers: WORKERS, env, ...(dump ? { logDir: dump } : {}) });
    const businesses: Business[] = [];
    for (const [b, limit] of LIMITS.entries()) {
      const callerId = `+1650555${2000 + b}`;
      const { business } = await api<{ business: { id: string } }>(stack, 'POST', '/v1/businesses', {
        name: `Chaos ${b + 1}`,
        callerId,
        callingWindow: { alwaysOpen: true },
        maxConcurrentCalls: limit,
      });
      const runLeads = Array.from({ length: RUNS_PER_BUSINESS }, (_, r) => leadPhones(leadsPerRun, `+1415${700 + b * RUNS_PER_BUSINESS + r}`));
      businesses.push({ id: business.id, callerId, limit, runIds: [], leads: runLeads.flat() });
    }
    const talk = prng(seed ^ 0x7a1c);
    stack.carrier.setScripts(businesses.flatMap((b) => b.leads.map((to) => ({ to, talkMs: Math.round(between(talk, 300, 500)) }))));

    const start = Date.now();
    await Promise.all(
      businesses.flatMap((b) =>
        Array.from({ length: RUNS_PER_BUSINESS }, async (_, r) => {
          const leads = b.leads.slice(r * leadsPerRun, (r + 1) * leadsPerRun).map((phone) => ({ phone }));
          const { run } = await api<{ run: { id: string } }>(stack!, 'POST', `/v1/businesses/${b.id}/runs`, { leads });
          b.runIds.push(run.id);
        }),
      ),
    );
    say(`${businesses.length * RUNS_PER_BUSINESS} runs of ${leadsPerRun} leads started; ${schedule.length} faults scheduled over ${chaosMs / 1000} s (seed ${seed})`);

    // Wait for the runs, reading the API once a second (it may be down: then read again).
    let view: ApiView | null = null;
    let done = false;
    const chaos = new Chaos(stack, start, chaosMs, () => done);
    const chaosDone = chaos.run(schedule);
    const deadline = start + timeoutMs;
    let lastSaid = 0;
    while (!done && Date.now() < deadline) {
      view = await apiView(stack, businesses).catch(() => view);
      done = view !== null && settled(view) && Date.now() - start > 1_000;
      if (!done && Date.now() - lastSaid > 15_000 && view) {
        lastSaid = Date.now();
        say(`${seconds(Date.now() - start)} s: runs ${view.runs.map((r) => r.status).join(',')}; active ${view.active.join(',')}; held ${view.held.length}`);
      }
      if (!done) await sleep(1_000);
    }
    const makespan = Date.now() - start;
    done = true;
    await chaosDone;
    // The verdict's view of the API, after the last fault (an outage may have been in progress).
    view = await apiView(stack, businesses);
    if (interrupted()) return;

    const { carrier } = stack;
    const now = Date.now();
    const checks: string[] = [];
    const rows = businesses.map((b, i) => {
      const calls = carrier.calls({ from: b.callerId });
      const peak = peakLive(calls, now);
      const dials = countDials(b.leads, calls);
      const stillLive = calls.filter((c) => c.endTime === null).length;
      const lastEnd = Math.max(...calls.map((c) => c.endTime ?? now));
      if (peak > b.limit) checks.push(`(a) business ${i + 1}: ${peak} calls live at once at the carrier, limit ${b.limit}`);
      if (dials.duplicates.length) checks.push(`(b) business ${i + 1}: created more than once: ${dials.duplicates.map(([n, k]) => `${n} ×${k}`).join(', ')}`);
      if (dials.missing.length) checks.push(`(b) business ${i + 1}: never created: ${dials.missing.join(', ')}`);
      if (dials.unexpected.length) checks.push(`(b) business ${i + 1}: created, but no lead: ${dials.unexpected.join(', ')}`);
      if (stillLive) checks.push(`(c) business ${i + 1}: ${stillLive} calls still live at the carrier`);
      if (view!.active[i] !== 0) checks.push(`(c) business ${i + 1}: the API shows ${view!.active[i]} active calls`);
      return [i + 1, b.limit, peak, carrier.stats().perFrom[b.callerId]?.peak ?? 0, b.leads.length, dials.dialed, calls.length, dials.duplicates.length, dials.missing.length, view!.active[i]!, seconds(idleWithLeadsLeft(calls, now)), seconds(lastEnd - start)];
    });
    for (const r of view.runs.filter((r) => r.status !== 'completed')) checks.push(`(c) run ${r.id} is ${r.status}`);
    if (view.held.length) checks.push(`(c) ${view.held.length} calls held for an operator: ${JSON.stringify(view.held)}`);
    const bad5xx = callbacks5xxOutside(carrier.callbacks(), chaos.postgresDown);
    for (const c of bad5xx) {
      checks.push(`(d) ${c.event} callback of ${String(c.params.CallSid)} answered ${c.responseStatus} at +${seconds((c.sentAt ?? c.firedAt) - start)} s (Postgres down: ${chaos.postgresDown.map(([a, z]) => `+${seconds(a - start)}-${seconds(z - start)} s`).join(', ') || 'never'})`);
    }

    const requests = carrier.requests().filter((r) => r.method === 'POST' && /\/Calls\.json$/.test(r.path));
    const callbacks = carrier.callbacks();
    const seen = {
      'creates answered 429': requests.filter((r) => r.status === 429).length,
      'creates answered 5xx': requests.filter((r) => r.status >= 500).length,
      'creates the client gave up on': requests.filter((r) => r.status === 0).length,
      'callbacks dropped': callbacks.filter((c) => c.result === 'dropped').length,
      'callbacks answered 5xx': callbacks.filter((c) => (c.responseStatus ?? 0) >= 500).length,
      'callbacks answered 4xx': callbacks.filter((c) => c.responseStatus !== null && c.responseStatus >= 400 && c.responseStatus < 500).length,
      'callbacks refused (API down)': callbacks.filter((c) => c.result === 'connection-error').length,
    };

    console.log(`Chaos run, seed ${seed}: ${businesses.length} businesses, ${view.runs.length} runs × ${leadsPerRun} leads, ${WORKERS} workers, makespan ${seconds(makespan)} s`);
    console.log(`runs: ${view.runs.map((r) => r.status).join(', ')}; held calls: ${view.held.length}; callbacks answered 5xx outside the Postgres outage: ${bad5xx.length}\n`);
    console.log(table(['business', 'limit', 'peak (sweep)', 'peak (carrier)', 'leads', 'dialed', 'calls created', 'duplicates', 'missing', 'active at end', 'idle s (0 live, leads left)', 'last call ended s'], rows));
    console.log('');
    const kinds = ['worker-kill', 'worker-kill-skipped', 'all-workers-kill', 'api-kill', 'postgres-restart', 'temporal-restart', ...CARRIER_FAULTS.map((f) => f.kind)];
    console.log(table(['fault', 'made'], kinds.map((k) => [k, chaos.made.get(k) ?? 0])));
    console.log(`carrier faults never consumed, dropped when the chaos ended: ${chaos.unconsumed.create} create, ${chaos.unconsumed.callbacks} callback`);
    console.log('');
    console.log(table(['seen at the carrier', 'count'], Object.entries(seen)));
    console.log('');
    if (dump) await writeDump(dump, stack, start, chaos.log, businesses);
    if (checks.length) {
      failed = true;
      console.log(`FAILED (${checks.length}):\n${checks.map((c) => `- ${c}`).join('\n')}`);
    } else {
      console.log('All checks passed: (a) peak ≤ limit, (b) each lead created once, (c) no slot held, every run completed, (d) no callback 5xx outside the Postgres outage.');
    }
  } finally {
    await stack?.stop();
  }
  if (failed) process.exit(1);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
