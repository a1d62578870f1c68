import type { CallbackRecord, CallView, SandboxStats } from '../../src/sandbox-carrier';
import { isLoopback } from '../../src/sandbox-carrier/http-util';
import { FROM, rejection, useCarrierFixture } from './helpers';

/** The admin API as a test whose carrier runs in another process uses it: HTTP only. */

const fx = useCarrierFixture({ resetEachTest: false });

async function admin<T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
  const res = await fetch(`${fx.carrier.url}/__sandbox${path}`, {
    method,
    ...(body === undefined ? {} : { headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) }),
  });
  return { status: res.status, body: (await res.json()) as T };
}

const dial = (to: string) => fx.client.calls.create({ to, from: FROM, url: fx.receiver.twimlUrl(), statusCallback: `${fx.receiver.url}/status` });

test('scripts, waits, stats, release, callbacks, requests and reset over HTTP', async () => {
  expect((await admin('GET', '/health')).body).toEqual({ ok: true, url: fx.carrier.url, accountSid: fx.carrier.accountSid });

  const scripts = await admin<{ rules: Array<{ to: string; outcome: string }> }>('PUT', '/scripts', {
    rules: [
      { to: '+1415556*', outcome: 'hold' },
      { to: '/^\\+1212/', outcome: 'busy' },
    ],
  });
  expect(scripts.status).toBe(200);
  expect(scripts.body.rules.map((r) => r.outcome)).toEqual(['hold', 'busy']);

  const [a, b] = await Promise.all([dial('+14155561001'), dial('+14155561002')]);
  const waited = await admin<CallView[]>('GET', `/wait/calls?count=2&status=in-progress&from=${encodeURIComponent(FROM)}`);
  expect(waited.body.map((c) => c.sid).sort()).toEqual([a!.sid, b!.sid].sort());
  expect((await admin<SandboxStats>('GET', '/stats')).body.perFrom[FROM]).toEqual({ live: 2, peak: 2 });

  const one = await admin<CallView>('GET', `/calls/${a!.sid}`);
  expect(one.body.timeline.map((t) => t.status)).toEqual(['queued', 'initiated', 'ringing', 'in-progress']);
  expect(one.body.held).toBe(true);
  expect((await admin('POST', `/calls/${a!.sid}/release`, { outcome: 'completed' })).body).toEqual({ released: true });
  expect((await admin('POST', `/calls/${a!.sid}/release`, {})).status).toBe(409);
  expect((await admin('POST', '/release-all', {})).body).toEqual({ released: 1 });
  const idle = await admin<{ idle: boolean; stats: SandboxStats }>('GET', '/wait/idle');
  expect(idle.body.stats.perFrom[FROM]).toEqual({ live: 0, peak: 2 });

  const busy = await dial('+12125550123');
  await admin('GET', `/wait/callbacks?callSid=${busy.sid}&count=1`);
  const records = (await admin<CallbackRecord[]>('GET', `/callbacks?callSid=${busy.sid}`)).body;
  expect(records.map((r) => [r.callStatus, r.responseStatus])).toEqual([['busy', 204]]);
  expect((await admin<CallView[]>('GET', '/calls?status=busy')).body.map((c) => c.sid)).toEqual([busy.sid]);
  expect((await admin<unknown[]>('GET', '/requests')).body).toHaveLength(3);

  expect((await admin('POST', '/reset')).body).toEqual({ ok: true });
  expect((await admin('GET', '/calls')).body).toEqual([]);
  expect((await admin('GET', '/stats')).body).toEqual({ perFrom: {}, perAccount: {} });
  expect((await admin<{ rules: unknown[] }>('GET', '/scripts')).body.rules).toEqual([]);
});

test('outcomes, faults, limits and blocked numbers over HTTP', async () => {
  await admin('POST', '/reset');
  expect((await admin('POST', '/outcomes', { outcomes: ['failed', { outcome: 'busy', ringMs: 5 }] })).body).toEqual({ queued: 2 });
  const faults = await admin<{ create: unknown[]; callbacks: unknown[] }>('POST', '/faults', {
    create429: 4,
    callbacks: { faults: [{ kind: 'bad-signature' }] },
  });
  expect(faults.body.create).toHaveLength(4);
  expect(faults.body.callbacks).toHaveLength(1);

  const refused = await rejection(dial('+14155562001'));
  expect([refused.status, refused.code]).toEqual([429, 20429]);
  const failed = await dial('+14155562002');
  const busy = await dial('+14155562003');
  await admin('GET', '/wait/idle');
  expect([fx.carrier.call(failed.sid)?.status, fx.carrier.call(busy.sid)?.status]).toEqual(['failed', 'busy']);
  expect(fx.receiver.forCall(failed.sid).map((c) => c.valid)).toEqual([false]);

  expect((await admin('PUT', '/limits', { callsPerSecond: 1, queueLimit: 0 })).status).toBe(200);
  const full = await rejection(dial('+14155562004'));
  expect(full.code).toBe(22005);
  await admin('PUT', '/limits', { callsPerSecond: 100, queueLimit: null });

  expect((await admin('POST', '/blocked', { numbers: ['+14155562005'], geoPrefixes: ['+33'] })).body).toEqual({
    numbers: ['+14155562005'],
    geoPrefixes: ['+882', '+883', '+33'],
  });
  expect((await rejection(dial('+14155562005'))).code).toBe(21216);
  expect((await rejection(dial('+33142685300'))).code).toBe(21215);
});

test('DELETE /faults drops what no request has consumed: the next create and its callbacks are unharmed', async () => {
  await admin('POST', '/reset');
  await admin('POST', '/faults', { create5xx: { count: 2, status: 503 }, callbacks: { faults: [{ kind: 'drop' }] } });
  const cleared = await admin<{ dropped: { create: unknown[]; callbacks: unknown[] } }>('DELETE', '/faults');
  expect([cleared.body.dropped.create.length, cleared.body.dropped.callbacks.length]).toEqual([2, 1]);
  expect((await admin<{ create: unknown[]; callbacks: unknown[] }>('GET', '/faults')).body).toEqual({ create: [], callbacks: [] });
  const call = await dial('+14155562010');
  await admin('GET', '/wait/idle');
  expect(fx.carrier.requests().filter((r) => r.method === 'POST').map((r) => r.status)).toEqual([201]);
  expect(fx.receiver.forCall(call.sid).length).toBeGreaterThan(0);
  expect(fx.receiver.forCall(call.sid).every((c) => c.valid)).toBe(true);
});

test('bad admin input is a 400 naming the problem; a wait that cannot be met is a 408', async () => {
  const bad = await admin<{ error: string }>('PUT', '/scripts', { rules: [{ to: '+1415*', outcome: 'explode' }] });
  expect(bad.status).toBe(400);
  expect(bad.body.error).toMatch(/rules\.0\.outcome/);
  const badFault = await admin<{ error: string }>('POST', '/faults', { callbacks: { faults: [{ kind: 'delay' }] } });
  expect(badFault.status).toBe(400);
  const timeout = await admin<{ error: string }>('GET', '/wait/calls?count=99&timeoutMs=20');
  expect(timeout.status).toBe(408);
  expect(timeout.body.error).toMatch(/timed out after 20 ms/);
  expect((await admin('GET', '/nope')).status).toBe(404);
  expect(() => fx.carrier.setScripts([{ to: '+1', outcome: 'explode' as 'busy' }])).toThrow(/invalid script rules at 0\.outcome/);
});

test('the admin API is for loopback peers only', () => {
  expect(['127.0.0.1', '::1', '::ffff:127.0.0.1', '127.0.0.53'].map(isLoopback)).toEqual([true, true, true, true]);
  expect(['10.0.0.5', '192.168.1.2', '::ffff:10.0.0.5', undefined].map(isLoopback)).toEqual([false, false, false, false]);
});
