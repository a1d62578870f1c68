import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { loadConfig, ConfigError } from '../../src/config';
import { resolvePublicHost, NO_PUBLIC_HOST } from '../../src/public-host';

const run = promisify(execFile);
const ROOT = path.resolve(__dirname, '../..');
const TSX = path.join(ROOT, 'node_modules/.bin/tsx');

const VALID: Record<string, string> = {
  DATABASE_URL: 'postgres://outdial:outdial@127.0.0.1:1/outdial',
  TWILIO_ACCOUNT_SID: 'AC' + 'a'.repeat(32),
  TWILIO_AUTH_TOKEN: 'sandbox-token-123',
  OUTDIAL_ADMIN_KEYS: 'admin-key-for-the-start-up-tests-0001',
};

/** Starts an entry point with exactly this environment and returns how it ended. */
async function start(entry: 'src/server.ts' | 'src/worker.ts', env: Record<string, string>) {
  try {
    const r = await run(TSX, [entry], { cwd: ROOT, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', ...env }, timeout: 30_000 });
    return { code: 0, stderr: r.stderr };
  } catch (err) {
    const e = err as { code: number; stderr: string };
    return { code: e.code, stderr: e.stderr };
  }
}

const without = (name: string) => Object.fromEntries(Object.entries(VALID).filter(([k]) => k !== name));

describe('start-up configuration', () => {
  const cases: [string, Record<string, string>, RegExp][] = [
    ['DATABASE_URL missing', without('DATABASE_URL'), /DATABASE_URL is missing/],
    ['TWILIO_ACCOUNT_SID missing', without('TWILIO_ACCOUNT_SID'), /TWILIO_ACCOUNT_SID is missing/],
    ['TWILIO_AUTH_TOKEN missing', without('TWILIO_AUTH_TOKEN'), /TWILIO_AUTH_TOKEN is missing/],
    ['DATABASE_URL malformed', { ...VALID, DATABASE_URL: 'mysql://x' }, /DATABASE_URL is invalid \("mysql:\/\/x"\): must be a postgres:\/\/ URL/],
    ['TWILIO_ACCOUNT_SID malformed', { ...VALID, TWILIO_ACCOUNT_SID: 'XX123' }, /TWILIO_ACCOUNT_SID is invalid .*"AC" followed by 32 hex digits/],
    ['TWILIO_AUTH_TOKEN too short', { ...VALID, TWILIO_AUTH_TOKEN: 'abc' }, /TWILIO_AUTH_TOKEN is invalid/],
    ['PORT malformed', { ...VALID, PORT: 'eighty' }, /PORT is invalid \("eighty"\)/],
    ['PORT out of range', { ...VALID, PORT: '70000' }, /PORT is invalid \("70000"\)/],
    ['PUBLIC_HOST malformed', { ...VALID, PUBLIC_HOST: 'ftp://x y' }, /PUBLIC_HOST is invalid/],
    ['TEMPORAL_ADDRESS malformed', { ...VALID, TEMPORAL_ADDRESS: 'localhost' }, /TEMPORAL_ADDRESS is invalid .*host:port/],
    ['TWILIO_API_BASE_URL malformed', { ...VALID, TWILIO_API_BASE_URL: 'not a url' }, /TWILIO_API_BASE_URL is invalid/],
    ['LOG_LEVEL malformed', { ...VALID, LOG_LEVEL: 'loud' }, /LOG_LEVEL is invalid/],
    ['OUTDIAL_ENV malformed', { ...VALID, OUTDIAL_ENV: 'staging' }, /OUTDIAL_ENV is invalid/],
    ['RUN_WAKE_FALLBACK_SECONDS malformed', { ...VALID, RUN_WAKE_FALLBACK_SECONDS: '-1' }, /RUN_WAKE_FALLBACK_SECONDS is invalid/],
    ['OUTDIAL_ADMIN_KEYS missing in production', without('OUTDIAL_ADMIN_KEYS'), /OUTDIAL_ADMIN_KEYS is missing: set it to one or more admin API keys/],
    ['OUTDIAL_ADMIN_KEYS too short', { ...VALID, OUTDIAL_ADMIN_KEYS: 'short-secret-value' }, /OUTDIAL_ADMIN_KEYS is invalid \(value hidden\): each key must be at least 32/],
    ['API_RATE_LIMIT_PER_MINUTE malformed', { ...VALID, API_RATE_LIMIT_PER_MINUTE: 'lots' }, /API_RATE_LIMIT_PER_MINUTE is invalid/],
    ['WEBHOOK_MAX_ATTEMPTS out of range', { ...VALID, WEBHOOK_MAX_ATTEMPTS: '0' }, /WEBHOOK_MAX_ATTEMPTS is invalid \("0"\)/],
  ];

  test.concurrent.each(cases)('the API with %s prints one clear line and exits non-zero', async (_name, env, expected) => {
    const { code, stderr } = await start('src/server.ts', env);
    expect(code).toBe(1);
    const lines = stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^outdial api: Configuration error: /);
    expect(lines[0]).toMatch(expected);
    expect(stderr).not.toMatch(/\n\s+at /);
    // A configuration error never echoes a secret's value.
    for (const secret of [env.TWILIO_AUTH_TOKEN, env.OUTDIAL_ADMIN_KEYS, 'outdial:outdial@']) if (secret) expect(stderr).not.toContain(secret);
  });

  test.concurrent.each(cases.slice(0, 4))('the worker with %s prints one clear line and exits non-zero', async (_name, env, expected) => {
    const { code, stderr } = await start('src/worker.ts', env);
    expect(code).toBe(1);
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stderr).toMatch(/^outdial worker: Configuration error: /);
    expect(stderr).toMatch(expected);
  });

  test('an unreachable database ends start-up with one readable line, not a stack trace', async () => {
    const { code, stderr } = await start('src/server.ts', VALID);
    expect(code).toBe(1);
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stderr).toMatch(/^outdial api: failed to start: .*ECONNREFUSED/);
  });
});

describe('public host resolution', () => {
  const base = { env: 'production' as const, port: 3000, publicHost: { platform: {} } };
  test('PUBLIC_HOST with and without a scheme', () => {
    expect(resolvePublicHost({ ...base, publicHost: { configured: 'calls.example.com', platform: {} } })).toMatchObject({ ok: true, baseUrl: 'https://calls.example.com' });
    expect(resolvePublicHost({ ...base, publicHost: { configured: 'http://127.0.0.1:3000/', platform: {} } })).toMatchObject({ ok: true, baseUrl: 'http://127.0.0.1:3000' });
  });
  test('a platform domain when PUBLIC_HOST is unset', () => {
    expect(resolvePublicHost({ ...base, publicHost: { platform: { RAILWAY_PUBLIC_DOMAIN: 'outdial.up.railway.app' } } })).toMatchObject({
      ok: true,
      baseUrl: 'https://outdial.up.railway.app',
      source: 'RAILWAY_PUBLIC_DOMAIN',
    });
  });
  test('localhost only in development, with a warning; otherwise a clear failure', () => {
    expect(resolvePublicHost({ ...base, env: 'development' })).toMatchObject({ ok: true, baseUrl: 'http://localhost:3000', warning: expect.stringContaining('PUBLIC_HOST') });
    expect(resolvePublicHost(base)).toEqual({ ok: false, error: NO_PUBLIC_HOST });
    expect(NO_PUBLIC_HOST).toBe('No public host configured');
  });
  test('loadConfig names the variable in its error', () => {
    expect(() => loadConfig({ ...VALID, PORT: '0' })).toThrow(ConfigError);
    expect(() => loadConfig({ ...VALID, PORT: '0' })).toThrow(/PORT is invalid/);
    expect(loadConfig(VALID)).toMatchObject({ port: 3000, temporal: { address: '127.0.0.1:7233', taskQueue: 'outdial' } });
  });
  test('the run page and event streams: Temporal UI link, heartbeat and progress interval, with defaults', () => {
    expect(loadConfig(VALID)).toMatchObject({ temporalUiUrl: 'http://localhost:8233', liveEvents: { heartbeatSeconds: 15, progressIntervalMs: 250 } });
    expect(loadConfig({ ...VALID, TEMPORAL_UI_URL: 'https://temporal.example.com/', EVENTS_HEARTBEAT_SECONDS: '5', EVENTS_PROGRESS_INTERVAL_MS: '0' })).toMatchObject({
      temporalUiUrl: 'https://temporal.example.com',
      liveEvents: { heartbeatSeconds: 5, progressIntervalMs: 0 },
    });
    expect(() => loadConfig({ ...VALID, TEMPORAL_UI_URL: 'temporal:8233' })).toThrow(/TEMPORAL_UI_URL is invalid .*must be an http\(s\) URL/);
    expect(() => loadConfig({ ...VALID, EVENTS_HEARTBEAT_SECONDS: '0' })).toThrow(/EVENTS_HEARTBEAT_SECONDS is invalid/);
  });
  test('dial pass timeouts: 45 s and 5 s by default, bounded, named when bad', () => {
    expect(loadConfig(VALID).dialPass).toEqual({ timeoutSeconds: 45, heartbeatSeconds: 5, local: false, sessionSeconds: 30 });
    expect(loadConfig({ ...VALID, DIAL_PASS_TIMEOUT_SECONDS: '90', DIAL_PASS_HEARTBEAT_SECONDS: '10' }).dialPass).toEqual({ timeoutSeconds: 90, heartbeatSeconds: 10, local: false, sessionSeconds: 30 });
    expect(() => loadConfig({ ...VALID, DIAL_PASS_HEARTBEAT_SECONDS: '1' })).toThrow(/DIAL_PASS_HEARTBEAT_SECONDS is invalid/);
  });
  test('webhook defaults; private networks refused only in production unless set', () => {
    expect(loadConfig(VALID).webhooks).toEqual({ timeoutMs: 10_000, maxAttempts: 10, retryBaseSeconds: 5, retryMaxSeconds: 21_600, concurrency: 10, allowPrivateNetworks: false });
    expect(loadConfig({ ...VALID, OUTDIAL_ENV: 'development' }).webhooks.allowPrivateNetworks).toBe(true);
    expect(loadConfig({ ...VALID, WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true' }).webhooks.allowPrivateNetworks).toBe(true);
    expect(loadConfig({ ...VALID, OUTDIAL_ENV: 'test', WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'false' }).webhooks.allowPrivateNetworks).toBe(false);
  });
});
