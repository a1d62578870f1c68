/**
 * The two dialers the suite drives with the same work: Outdial through its API (a business per
 * caller ID, its leads as one or more runs), and the polling dialer as its own OS process.
 */
import path from 'node:path';
import pg from 'pg';
import { forEachLine } from '../../src/dev/log-lines';
import { freePort, spawnManaged, type ManagedProcess } from '../../src/dev/processes';
import { adminApi, say, type ProcessStack } from '../lib/process-stack';
import { findPid } from './cpu';

/** One business's share of a scenario: its caller ID, limit and leads, split over `runs` runs (Outdial). */
export interface Work {
  callerId: string;
  limit: number;
  phones: string[];
  runs?: number;
}

export interface Dialer {
  /** Column name in the table. */
  name: string;
  /** Hands the work over; resolves once it is accepted (runs created, jobs queued). Returns the business IDs by caller ID (Outdial). */
  submit(work: Work[]): Promise<Map<string, string>>;
  /** Resolves once the dialer itself is finished with the work (Outdial: every run terminal). */
  settled(): Promise<void>;
  /** The OS processes doing the dialer's work, by name, for CPU accounting. */
  processes(): Record<string, number | undefined>;
  stop(): Promise<void>;
}

/** `api`, or `api1`, `api2`, … when there are several. */
const numbered = (name: string, procs: ManagedProcess[]) => Object.fromEntries(procs.map((p, i) => [`${name}${procs.length > 1 ? i + 1 : ''}`, p.child.pid]));

/** The stack's Postgres postmaster (its backends are its children). */
function postgresPid(stack: ProcessStack): number | undefined {
  return findPid(['-p', new URL(stack.postgres.databaseUrl).port, '-c', 'listen_addresses=127.0.0.1']);
}

export const DIALERS = ['Outdial', 'polling 1 s', 'polling 0.25 s'] as const;
export type DialerName = (typeof DIALERS)[number];

/** `n` parts of `xs`, in order, as even as can be. */
function split<T>(xs: T[], n: number): T[][] {
  return Array.from({ length: n }, (_, i) => xs.slice(Math.floor((i * xs.length) / n), Math.floor(((i + 1) * xs.length) / n)));
}

export function outdialDialer(stack: ProcessStack): Dialer {
  let runIds: string[] = [];
  return {
    name: 'Outdial',
    async submit(work) {
      const businesses = await Promise.all(
        work.map((w) =>
          adminApi<{ business: { id: string } }>(stack, 'POST', '/v1/businesses', {
            name: `bench ${w.callerId}`,
            callerId: w.callerId,
            callingWindow: { alwaysOpen: true },
            maxConcurrentCalls: w.limit,
          }),
        ),
      );
      const runs = await Promise.all(
        work.flatMap((w, i) =>
          split(w.phones, w.runs ?? 1).map((phones) =>
            adminApi<{ run: { id: string } }>(stack, 'POST', `/v1/businesses/${businesses[i]!.business.id}/runs`, { leads: phones.map((phone) => ({ phone })) }),
          ),
        ),
      );
      runIds = runs.map((r) => r.run.id);
      return new Map(work.map((w, i) => [w.callerId, businesses[i]!.business.id]));
    },
    async settled() {
      for (const id of runIds) {
        for (;;) {
          const { run } = await adminApi<{ run: { status: string } }>(stack, 'GET', `/v1/runs/${id}`);
          if (['completed', 'canceled', 'failed'].includes(run.status)) break;
          await new Promise((r) => setTimeout(r, 250));
        }
      }
    },
    processes: () => ({
      postgres: postgresPid(stack),
      temporal: stack.temporal.process.child.pid,
      ...numbered('api', stack.apis.filter((a) => a.child.exitCode === null)),
      ...numbered('worker', stack.workers),
    }),
    async stop() {},
  };
}

/** Starts the polling dialer (bench/suite/polling-dialer.ts) with its own database in the stack's Postgres. */
export async function startPollingDialer(stack: ProcessStack, pollMs: number): Promise<Dialer> {
  const database = `polling_${String(pollMs).replace('.', '_')}_${Date.now()}`;
  const admin = new pg.Client({ connectionString: stack.postgres.databaseUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${database}`);
  await admin.end();
  const url = new URL(stack.postgres.databaseUrl);
  url.pathname = `/${database}`;
  const port = await freePort();
  const proc: ManagedProcess = spawnManaged(process.execPath, ['--import', 'tsx', path.join(__dirname, 'polling-dialer.ts')], {
    cwd: path.resolve(__dirname, '../..'),
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      DATABASE_URL: url.toString(),
      POLL_MS: String(pollMs),
      PORT: String(port),
      TWILIO_API_BASE_URL: stack.carrier.url,
      TWILIO_ACCOUNT_SID: stack.carrier.accountSid,
      TWILIO_AUTH_TOKEN: stack.carrier.authToken,
    },
  });
  forEachLine(proc.child.stderr, (line) => say(`polling dialer: ${line}`));
  await new Promise<void>((resolve, reject) => {
    forEachLine(proc.child.stdout, (line) => line.includes('listening') && resolve());
    void proc.exited.then((code) => reject(new Error(`the polling dialer exited (${code})`)));
  });
  return {
    name: `polling ${pollMs / 1000} s`,
    async submit(work) {
      await Promise.all(
        work.map(async (w) => {
          const res = await fetch(`http://127.0.0.1:${port}/jobs`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ callerId: w.callerId, limit: w.limit, phones: w.phones }),
          });
          if (res.status !== 201) throw new Error(`polling dialer /jobs: ${res.status}`);
        }),
      );
      return new Map();
    },
    async settled() {},
    processes: () => ({ postgres: postgresPid(stack), poller: proc.child.pid }),
    stop: () => proc.stop(),
  };
}
