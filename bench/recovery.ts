/**
 * Recovery after faults, measured on a stack of real servers with Outdial's DEFAULT settings:
 *
 *   npx tsx bench/recovery.ts [--reps 3] [--only worker-kill,api-kill,...] [--timeout-s 180] [--twilio-timeout-ms N]
 *
 * Embedded Postgres and the Temporal dev server (SQLite) of the bench's own, so each can be stopped
 * and started again on its port; the API and two workers (compiled: dist/src/server.js, worker.js) as OS
 * processes, so they can be SIGKILLed; the sandbox carrier in this process, so faults can be
 * injected and its calls read. Each repetition uses a fresh business (limit 3) with a run of many
 * short calls, waits until the carrier sees it at 3 live calls, makes the fault, and measures the
 * time from the fault (for a server outage: from the server being back) until the carrier sees the
 * business at 3 live calls again, all created after the slot was freed at the carrier.
 * Prints a markdown table: fault, runs, p50 s, max s, target, met?
 */
import { parseArgs } from 'node:util';
import { leadPhones } from '../test/helpers/outdial';
import { adminApi as api, say, startProcessStack, stopOnInterrupt, type ProcessStack as Stack } from './lib/process-stack';

const LIMIT = 3;
const LEADS = 3_000;

let callerIds = 0;
/** A fresh business with a long run of short calls, once the carrier sees it at its limit. */
async function busyBusiness(stack: Stack): Promise<{ callerId: string; runId: string }> {
  const callerId = `+1650555${String(1000 + callerIds++).padStart(4, '0')}`;
  const { business } = await api<{ business: { id: string } }>(stack, 'POST', '/v1/businesses', {
    name: 'Recovery bench',
    callerId,
    callingWindow: { alwaysOpen: true },
    maxConcurrentCalls: LIMIT,
  });
  const prefix = `+1415${String(600 + callerIds).padStart(3, '0')}`;
  const { run } = await api<{ run: { id: string } }>(stack, 'POST', `/v1/businesses/${business.id}/runs`, {
    leads: leadPhones(LEADS, prefix).map((phone) => ({ phone })),
  });
  await atLimit(stack, callerId, 0, 120_000);
  return { callerId, runId: run.id };
}

/** Resolves with the time the carrier first sees `limit` live calls of the caller, all created at or after `since`. */
async function atLimit(stack: Stack, callerId: string, since: number, timeoutMs: number): Promise<number> {
  let at = 0;
  await stack.carrier.waitFor(
    () => {
      const live = stack.carrier.calls({ from: callerId, live: true });
      if (live.length >= LIMIT && live.every((c) => c.createdAt >= since)) at = Date.now();
      return at > 0;
    },
    { timeoutMs, description: `${callerId} back at ${LIMIT} live calls` },
  );
  return at;
}

interface FaultClass {
  name: string;
  target: string;
  targetSeconds: number;
  /** Makes the fault on a busy business; returns when the clock starts and since when slots count as free. */
  fault(stack: Stack, callerId: string): Promise<{ from: number; freedAt: number }>;
}

/** The first call of `callerId` created after `after`, once it exists. */
async function nextCall(stack: Stack, callerId: string, after: number) {
  await stack.carrier.waitFor(() => stack.carrier.calls({ from: callerId }).some((c) => c.createdAt > after));
  return stack.carrier.calls({ from: callerId }).filter((c) => c.createdAt > after).sort((a, b) => a.createdAt - b.createdAt)[0]!;
}

/** When the call ended at the carrier, once it has. */
async function endOf(stack: Stack, sid: string): Promise<number> {
  await stack.carrier.waitFor(() => stack.carrier.call(sid)?.endTime != null);
  return stack.carrier.call(sid)!.endTime!;
}

/** A completed callback of the caller's calls that got no 2xx answer, after `after`. */
function lostFinal(stack: Stack, after: number): () => boolean {
  return () => stack.carrier.callbacks().some((c) => c.event === 'completed' && c.firedAt > after && (c.responseStatus === null || c.responseStatus >= 500));
}

const FAULTS: FaultClass[] = [
  {
    name: 'worker-kill',
    target: '≤ 10 s',
    targetSeconds: 10,
    async fault(stack) {
      // The older of the two workers dies without warning; a replacement starts (as a supervisor would),
      // but recovery must not wait for it: the other worker takes the workflow and the activities over.
      const victim = stack.workers.shift()!;
      const from = Date.now();
      victim.child.kill('SIGKILL');
      await victim.exited;
      void stack.startWorker().catch((err: unknown) => say(`replacement worker: ${(err as Error).message}`));
      return { from, freedAt: from };
    },
  },
  {
    name: 'create-5xx-created',
    target: '≤ 15 s',
    targetSeconds: 15,
    async fault(stack, callerId) {
      const from = Date.now();
      stack.carrier.injectFaults({ create5xx: { count: 1, created: true } });
      const call = await nextCall(stack, callerId, from);
      return { from, freedAt: await endOf(stack, call.sid) };
    },
  },
  {
    name: 'create-5xx-not-created',
    target: '≤ 15 s',
    targetSeconds: 15,
    async fault(stack, callerId) {
      const injected = Date.now();
      stack.carrier.injectFaults({ create5xx: { count: 1, status: 503 } });
      // No call was made: the slot is free at the carrier from the answer. Outdial may withdraw the
      // reservation only once the create can no longer reach the carrier (the request timeout after
      // the failed create, 10 s), and must not dial that lead twice meanwhile.
      const refused = () => stack.carrier.requests().find((r) => r.method === 'POST' && r.status === 503 && r.at > injected && r.form.From === callerId);
      await stack.carrier.waitFor(() => refused() !== undefined);
      const at = refused()!.at;
      return { from: at, freedAt: at };
    },
  },
  {
    name: 'create-accepted-answer-after-timeout',
    target: '≤ 15 s',
    targetSeconds: 15,
    async fault(stack, callerId) {
      const from = Date.now();
      // The answer comes after the client's TWILIO_REQUEST_TIMEOUT_MS (default 10 s): 20 s.
      stack.carrier.injectFaults({ acceptThenTimeout: { delayMs: 20_000 } });
      const call = await nextCall(stack, callerId, from);
      return { from, freedAt: await endOf(stack, call.sid) };
    },
  },
  {
    name: 'final-callback-lost',
    target: '≤ 30 s',
    targetSeconds: 30,
    async fault(stack, callerId) {
      const injected = Date.now();
      stack.carrier.injectFaults({ callbacks: { faults: [{ kind: 'drop', events: ['completed'] }] } });
      const call = await nextCall(stack, callerId, injected);
      const ended = await endOf(stack, call.sid);
      return { from: ended, freedAt: ended };
    },
  },
  {
    name: 'api-kill',
    target: '≤ 10 s after back',
    targetSeconds: 10,
    async fault(stack) {
      const killed = Date.now();
      stack.api.child.kill('SIGKILL');
      await stack.api.exited;
      // Down until a call's final callback is lost, then restarted.
      await stack.carrier.waitFor(lostFinal(stack, killed));
      await stack.startApi();
      const back = Date.now();
      return { from: back, freedAt: back };
    },
  },
  {
    name: 'postgres-restart',
    target: '≤ 10 s after back',
    targetSeconds: 10,
    async fault(stack) {
      await stack.postgres.stop();
      await stack.restartPostgres();
      const back = Date.now();
      return { from: back, freedAt: back };
    },
  },
  {
    name: 'postgres-down-45s',
    target: '≤ 10 s after back',
    targetSeconds: 10,
    async fault(stack) {
      // A longer outage: every run's dial pass fails again and again meanwhile, and its retries back off.
      await stack.postgres.stop();
      await new Promise((resolve) => setTimeout(resolve, 45_000));
      await stack.restartPostgres();
      const back = Date.now();
      return { from: back, freedAt: back };
    },
  },
  {
    name: 'callbacks-while-postgres-down',
    target: '≤ 10 s after back',
    targetSeconds: 10,
    async fault(stack) {
      const down = Date.now();
      await stack.postgres.stop();
      await stack.carrier.waitFor(lostFinal(stack, down));
      await stack.restartPostgres();
      const back = Date.now();
      return { from: back, freedAt: back };
    },
  },
  {
    name: 'temporal-restart',
    target: '≤ 10 s after back',
    targetSeconds: 10,
    async fault(stack) {
      await stack.temporal.stop();
      await stack.restartTemporal();
      const back = Date.now();
      return { from: back, freedAt: back };
    },
  },
];

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

async function main() {
  const { values } = parseArgs({
    options: { reps: { type: 'string', default: '3' }, only: { type: 'string' }, 'timeout-s': { type: 'string', default: '180' }, 'twilio-timeout-ms': { type: 'string' } },
  });
  const reps = Number(values.reps);
  const timeoutMs = Number(values['timeout-s']) * 1000;
  const only = values.only?.split(',');
  const classes = only ? FAULTS.filter((f) => only.includes(f.name)) : FAULTS;
  if (only && classes.length !== only.length) throw new Error(`--only: unknown fault class; known: ${FAULTS.map((f) => f.name).join(', ')}`);

  let stack: Stack | null = null;
  const interrupted = stopOnInterrupt(() => stack);
  const rows: string[] = [];
  try {
    const requestTimeoutMs = values['twilio-timeout-ms'];
    // Outdial's defaults for everything measured; only when asked, the client's request timeout.
    stack = await startProcessStack({ env: requestTimeoutMs ? { TWILIO_REQUEST_TIMEOUT_MS: requestTimeoutMs } : {} });
    for (const fc of classes) {
      const seconds: number[] = [];
      let timedOut = 0;
      for (let i = 0; i < reps; i++) {
        const { callerId, runId } = await busyBusiness(stack);
        const { from, freedAt } = await fc.fault(stack, callerId);
        try {
          const at = await atLimit(stack, callerId, freedAt, timeoutMs);
          seconds.push((at - from) / 1000);
        } catch (err) {
          if (interrupted()) throw err;
          timedOut++;
          seconds.push(Infinity);
        }
        say(`${fc.name} #${i + 1}: ${seconds.at(-1)!.toFixed(1)} s`);
        await api(stack, 'POST', `/v1/runs/${runId}/cancel`).catch((err: unknown) => say(`cancel: ${(err as Error).message}`));
      }
      const p50 = median(seconds);
      const max = Math.max(...seconds);
      const fmt = (s: number) => (Number.isFinite(s) ? s.toFixed(1) : `> ${timeoutMs / 1000}`);
      const setting = requestTimeoutMs ? ` (TWILIO_REQUEST_TIMEOUT_MS=${requestTimeoutMs})` : '';
      rows.push(`| ${fc.name}${setting} | ${seconds.length}${timedOut ? ` (${timedOut} timed out)` : ''} | ${fmt(p50)} | ${fmt(max)} | ${fc.target} | ${max <= fc.targetSeconds ? 'yes' : 'no'} |`);
      say(rows.at(-1)!);
    }
  } finally {
    await stack?.stop();
  }
  console.log('| fault | runs | p50 s | max s | target | met? |');
  console.log('| --- | --- | --- | --- | --- | --- |');
  for (const row of rows) console.log(row);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
