import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import path from 'node:path';
import { createTelephonyClient } from '../../src/telephony/client';

/** `npm run sandbox-carrier`: env configuration, its one-line errors, and a clean stop on a signal. */

const ROOT = path.resolve(__dirname, '../..');
const TSX = path.join(ROOT, 'node_modules/.bin/tsx');

interface Run {
  child: ChildProcessWithoutNullStreams;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
}

function run(env: Record<string, string>): Run {
  const child = spawn(TSX, ['src/sandbox-carrier/main.ts'], { cwd: ROOT, env: { ...process.env, LOG_LEVEL: 'silent', ...env } });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, stdout: () => out, stderr: () => err, exited };
}

function outputMatching(r: Run, pattern: RegExp): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    const check = () => {
      const m = pattern.exec(r.stdout());
      if (m) {
        r.child.stdout.off('data', check);
        resolve(m);
      }
    };
    r.child.stdout.on('data', check);
    void r.exited.then((code) => reject(new Error(`carrier exited (${code}) before printing ${pattern}: ${r.stderr()}`)));
  });
}

test('runs from env vars, prints its URL and credentials, serves the SDK, and stops cleanly on SIGTERM', async () => {
  const sid = 'AC' + 'ab'.repeat(16);
  const r = run({ SANDBOX_CARRIER_PORT: '0', SANDBOX_ACCOUNT_SID: sid, SANDBOX_AUTH_TOKEN: 'standalone-token', SANDBOX_OWNED_NUMBERS: '+14155550100, +14155550101' });
  const [, url] = await outputMatching(r, /listening on (http:\/\/127\.0\.0\.1:\d+)\n[\s\S]*TWILIO_AUTH_TOKEN=standalone-token\n/);
  expect(r.stdout()).toContain(`TWILIO_ACCOUNT_SID=${sid}`);

  const client = createTelephonyClient({ accountSid: sid, authToken: 'standalone-token', apiBaseUrl: url! });
  const call = await client.calls.create({ to: '+14155550199', from: '+14155550101', url: 'http://127.0.0.1/twiml' });
  expect(call.status).toBe('queued');
  await expect(client.calls.create({ to: '+14155550199', from: '+14155550102', url: 'http://127.0.0.1/twiml' })).rejects.toMatchObject({ code: 21210 });
  const idle = (await (await fetch(`${url}/__sandbox/wait/idle`)).json()) as { stats: { perAccount: Record<string, unknown> } };
  expect(idle.stats.perAccount[sid]).toEqual({ live: 0, peak: 1 });

  r.child.kill('SIGTERM');
  expect(await r.exited).toBe(0);
  expect(r.stdout()).toContain('SIGTERM received, stopping');
  expect(r.stderr()).toBe('');
});

test.each([
  ['SANDBOX_CALLS_PER_SECOND', 'fast'],
  ['SANDBOX_OWNED_NUMBERS', '4155550100'],
  ['SANDBOX_ACCOUNT_SID', 'AC123'],
  ['SANDBOX_CARRIER_PORT', '70000'],
])('a bad %s prints one line naming it and exits 1', async (variable, value) => {
  const r = run({ SANDBOX_CARRIER_PORT: '0', [variable]: value });
  expect(await r.exited).toBe(1);
  const lines = r.stderr().trimEnd().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(new RegExp(`^Configuration error: ${variable} is invalid \\(${JSON.stringify(value).replace(/[+]/g, '\\+')}\\)`));
  expect(r.stdout()).toBe('');
});
