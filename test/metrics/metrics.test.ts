import http from 'node:http';
import type { AddressInfo } from 'node:net';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { createApp } from '../../src/api/app';
import { STATUS_CALLBACK_PATH } from '../../src/calls/status-callback-url';
import { ConfigError, loadConfig } from '../../src/config';
import { createDatabase } from '../../src/db/client';
import { freePort, type ManagedProcess } from '../../src/dev/processes';
import { registry } from '../../src/metrics/registry';
import { startMetricsServer } from '../../src/metrics/worker-server';
import { leadPhones, OutdialTestStack, pollFor, pollUntil } from '../helpers/outdial';

/**
 * One scrape, parsed: every sample as name, labels and value. The parser folds a histogram's samples
 * into one, dropping the `_sum` and `_count` of every labelled series, so histogram families are read
 * untyped: each `_bucket`, `_sum` and `_count` sample as it is written.
 */
interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

async function scrape(url: string, headers: Record<string, string> = {}): Promise<Sample[]> {
  const res = await fetch(url, { headers });
  if (res.status !== 200) throw new Error(`scrape of ${url}: ${res.status} ${await res.text()}`);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  const samples: Sample[] = [];
  const text = (await res.text()).replace(/^# TYPE \S+ (histogram|summary)$/gm, '');
  for (const family of parsePrometheusTextFormat(text)) {
    for (const m of family.metrics) samples.push({ name: family.name, labels: m.labels ?? {}, value: Number(m.value) });
  }
  return samples;
}

/** The sum of the samples of `name` whose labels include `labels` (0 when none has yet been recorded). */
function total(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  return samples
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);
}

describe('Prometheus metrics of the API and of a worker process', () => {
  let stack: OutdialTestStack;
  let worker: ManagedProcess;
  let workerMetrics: string;
  let temporalMetrics: string;
  beforeAll(async () => {
    // Calls quiet for 1 s are checked with the carrier, so a lost final callback is settled quickly.
    stack = await OutdialTestStack.start({ reconcileAfterSeconds: 1, carrier: { defaultScript: { dialMs: 2, ringMs: 20, talkMs: 60 } } });
    const [workerPort, temporalPort] = [await freePort(), await freePort()];
    worker = await stack.startWorkerProcess({ env: { WORKER_METRICS_PORT: String(workerPort), TEMPORAL_METRICS_ADDRESS: `127.0.0.1:${temporalPort}` } });
    workerMetrics = `http://127.0.0.1:${workerPort}/metrics`;
    temporalMetrics = `http://127.0.0.1:${temporalPort}/metrics`;
  });
  afterAll(async () => {
    await worker?.stop();
    await stack?.stop();
  });

  test('a run moves the dial, carrier, callback, refill and run metrics by what the carrier and Postgres saw', async () => {
    const apiBefore = await scrape(`${stack.apiUrl}/metrics`);
    const workerBefore = await scrape(workerMetrics);
    const business = await stack.createBusiness({ maxConcurrentCalls: 2 });
    const phones = leadPhones(6, '+1415590');
    const run = await stack.createRun(business.id, phones);

    // While it dials, the gauges read from Postgres count its live calls and the running run.
    await stack.carrier.waitForCalls(1, { from: business.callerId });
    const during = await scrape(`${stack.apiUrl}/metrics`);
    expect(total(during, 'outdial_runs', { status: 'running' })).toBeGreaterThanOrEqual(1);
    expect(total(during, 'outdial_active_calls', { direction: 'bulk' })).toBeGreaterThanOrEqual(1);

    const done = await stack.runResult(run);
    expect(done.jobs).toMatchObject({ completed: phones.length });
    const calls = stack.carrier.calls({ from: business.callerId });
    const sids = new Set(calls.map((c) => c.sid));
    // Every call's last callback has had its answer (the counter moves before the answer is sent).
    const answered = () => stack.carrier.callbacks().filter((c) => sids.has(c.callSid) && c.event !== 'amd' && c.responseStatus !== null);
    await pollUntil(async () => calls.every((c) => answered().some((cb) => cb.callSid === c.sid && cb.callStatus === 'completed')));

    const apiAfter = await scrape(`${stack.apiUrl}/metrics`);
    const workerAfter = await scrape(workerMetrics);
    const delta = (before: Sample[], after: Sample[], name: string, labels: Record<string, string> = {}) => total(after, name, labels) - total(before, name, labels);

    // The worker dialed every lead once, each through one timed calls.create that the carrier answered 201.
    expect(delta(workerBefore, workerAfter, 'outdial_dial_outcomes_total', { outcome: 'placed', direction: 'bulk' })).toBe(phones.length);
    expect(delta(workerBefore, workerAfter, 'outdial_dial_outcomes_total')).toBe(phones.length);
    expect(delta(workerBefore, workerAfter, 'outdial_carrier_request_duration_seconds_count', { operation: 'create', status_class: '2xx' })).toBe(calls.length);
    expect(delta(workerBefore, workerAfter, 'outdial_carrier_request_duration_seconds_sum', { operation: 'create' })).toBeGreaterThan(0);
    // Limit 2, 6 leads: the first claim takes 2 free slots, every later slot is a refill of a freed one.
    const refills = delta(workerBefore, workerAfter, 'outdial_slot_refill_seconds_count', { direction: 'bulk' });
    expect(refills).toBeGreaterThanOrEqual(1);
    expect(refills).toBeLessThanOrEqual(phones.length - 2);
    const refillSeconds = delta(workerBefore, workerAfter, 'outdial_slot_refill_seconds_sum', { direction: 'bulk' });
    expect(refillSeconds).toBeGreaterThan(0);
    expect(refillSeconds / refills).toBeLessThan(30);

    // The API counted each callback the carrier had answered, by what applying it did; at least the
    // final status of every call moved it forward.
    const callbacks = answered().filter((c) => c.responseStatus === 204);
    expect(delta(apiBefore, apiAfter, 'outdial_status_callbacks_total')).toBe(callbacks.length);
    expect(delta(apiBefore, apiAfter, 'outdial_status_callbacks_total', { result: 'applied' })).toBeGreaterThanOrEqual(phones.length);
    expect(delta(apiBefore, apiAfter, 'outdial_runs', { status: 'completed' })).toBeGreaterThanOrEqual(1);
    // Requests are labelled by their route's pattern.
    expect(delta(apiBefore, apiAfter, 'outdial_http_request_duration_seconds_count', { route: '/v1/businesses/:businessId/runs', method: 'POST', status_class: '2xx' })).toBe(1);
    expect(delta(apiBefore, apiAfter, 'outdial_http_request_duration_seconds_count', { route: '/v1/runs/:runId', method: 'GET', status_class: '2xx' })).toBeGreaterThanOrEqual(1);
    expect(delta(apiBefore, apiAfter, 'outdial_http_request_duration_seconds_count', { route: STATUS_CALLBACK_PATH, method: 'POST', status_class: '2xx' })).toBe(callbacks.length);
    // Process metrics of both processes, and the webhook counter (defined, not yet moved by anything).
    for (const samples of [apiAfter, workerAfter]) expect(total(samples, 'process_cpu_user_seconds_total')).toBeGreaterThan(0);
    expect(await registry.getSingleMetricAsString('outdial_webhook_deliveries_total')).toContain('# TYPE outdial_webhook_deliveries_total counter');

    // The Temporal SDK's own exporter in the worker process serves temporal_ metrics of its task queue.
    const temporal = await pollFor(
      () => scrape(temporalMetrics),
      (samples) => samples.some((s) => s.name.startsWith('temporal_') && s.labels.task_queue === stack.taskQueue),
    );
    expect(temporal.some((s) => s.name.startsWith('temporal_workflow_completed'))).toBe(true);
  });

  test("the worker's /healthz says it polls and reaches Postgres and Temporal", async () => {
    const res = await fetch(workerMetrics.replace('/metrics', '/healthz'));
    expect([res.status, await res.json()]).toEqual([200, { status: 'ok', worker: 'RUNNING', postgres: { ok: true }, temporal: { ok: true } }]);
  });

  test('an unknown path is labelled "unmatched", never by its raw path; no label value names a business, run, call or number', async () => {
    const business = await stack.createBusiness();
    const run = await stack.createRun(business.id, leadPhones(2, '+1415591'));
    await stack.runResult(run);
    const unknown = await stack.api('GET', `/v1/no-such-thing/${business.id}`);
    expect(unknown.status).toBe(404);
    const direct = await stack.api<{ call: { id: string } }>('POST', `/v1/businesses/${business.id}/calls`, { to: '+14155920001' });
    expect(direct.status).toBe(201);

    const api = await scrape(`${stack.apiUrl}/metrics`);
    expect(total(api, 'outdial_http_request_duration_seconds_count', { route: 'unmatched', status_class: '4xx' })).toBeGreaterThanOrEqual(1);
    expect(total(api, 'outdial_dial_outcomes_total', { direction: 'direct', outcome: 'placed' })).toBeGreaterThanOrEqual(1);
    const worker = await scrape(workerMetrics);
    const temporal = await scrape(temporalMetrics);
    const ids = [business.id, run.id, run.workflowId, direct.body.call.id, business.callerId, '+14155920001'];
    const values = [...api, ...worker, ...temporal].flatMap((s) => Object.values(s.labels));
    expect(values.length).toBeGreaterThan(0);
    for (const id of ids) expect(values.filter((v) => v.includes(id))).toEqual([]);
    // No label value is shaped like any id at all (a UUID, a call SID, an E.164 number).
    expect(values.filter((v) => /[0-9a-f]{8}-[0-9a-f]{4}-|CA[0-9a-f]{32}|\+\d{7,}/i.test(v) && !v.includes(stack.taskQueue))).toEqual([]);
  });

  test('a lost final callback settled by reconciliation counts as freed; the direct call it lets in counts as a refill', async () => {
    const business = await stack.createBusiness({ maxConcurrentCalls: 1 });
    const [blocked, next] = ['+14155930001', '+14155930002'];
    stack.carrier.setScripts([{ to: blocked, callbackFaults: [{ kind: 'omit-final' }] }]);
    try {
      const before = await scrape(`${stack.apiUrl}/metrics`);
      expect((await stack.api('POST', `/v1/businesses/${business.id}/calls`, { to: blocked })).status).toBe(201);
      await stack.carrier.waitFor(() => stack.carrier.calls({ from: business.callerId, status: 'completed' }).length === 1);
      // Each refused attempt (429, the slot looks taken) asks the carrier about calls quiet for over 1 s.
      const statuses: number[] = [];
      await pollFor(
        async () => {
          const res = await stack.api('POST', `/v1/businesses/${business.id}/calls`, { to: next });
          statuses.push(res.status);
          return res.status;
        },
        (status) => status === 201,
      );
      expect(statuses[0]).toBe(429);
      const after = await scrape(`${stack.apiUrl}/metrics`);
      const delta = (name: string, labels: Record<string, string>) => total(after, name, labels) - total(before, name, labels);
      expect(delta('outdial_reconcile_outcomes_total', { outcome: 'freed' })).toBe(1);
      expect(delta('outdial_carrier_request_duration_seconds_count', { operation: 'fetch', status_class: '2xx' })).toBeGreaterThanOrEqual(1);
      expect(delta('outdial_dial_outcomes_total', { outcome: 'placed', direction: 'direct' })).toBe(2);
      expect(delta('outdial_slot_refill_seconds_count', { direction: 'direct' })).toBe(1);
      expect(delta('outdial_http_request_duration_seconds_count', { route: '/v1/businesses/:businessId/calls', status_class: '4xx' })).toBe(statuses.length - 1);
    } finally {
      stack.carrier.setScripts([]);
    }
  });

  test('a scrape while Postgres cannot be reached answers 503 naming it, not a stack trace', async () => {
    const unreachable = createDatabase('postgres://outdial@127.0.0.1:1/outdial', { max: 1 });
    const server = http.createServer(createApp({ ...stack.deps(), database: unreachable }));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`);
      expect(res.status).toBe(503);
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe('metrics_unavailable');
      expect(body.error.message).toMatch(/^could not read the gauges from Postgres: .*ECONNREFUSED/);
    } finally {
      await new Promise((r) => server.close(r));
      await unreachable.close();
    }
  });

  test('with METRICS_TOKEN a scrape must send it; API_METRICS_ENABLED=false serves no /metrics', async () => {
    const token = 'metrics-token-for-the-test-0001';
    const serve = async (metrics: Parameters<typeof createApp>[0]['config']['metrics']) => {
      const server = http.createServer(createApp({ ...stack.deps(), config: { ...stack.config, metrics } }));
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`, close: () => new Promise((r) => server.close(r)) };
    };
    const guarded = await serve({ apiEnabled: true, token, workerPort: 0, temporalAddress: null });
    const off = await serve({ apiEnabled: false, workerPort: 0, temporalAddress: null });
    const workerPort = await freePort();
    const workerServer = await startMetricsServer({ port: workerPort, token, registries: [registry], health: async () => ({ ok: true }) });
    try {
      for (const url of [guarded.url, `http://127.0.0.1:${workerPort}/metrics`]) {
        for (const authorization of [undefined, 'Bearer wrong-token-of-the-same-size', `Basic ${token}`]) {
          const res = await fetch(url, { headers: authorization ? { authorization } : {} });
          expect(res.status).toBe(401);
          expect(((await res.json()) as { error: { code: string } }).error.code).toBe('unauthorized');
        }
        const served = await scrape(url, { authorization: `Bearer ${token}` });
        expect(served.some((s) => s.name === 'outdial_dial_outcomes_total')).toBe(true);
      }
      const none = await fetch(off.url);
      expect(none.status).toBe(404);
      expect(((await none.json()) as { error: { code: string } }).error.code).toBe('route_not_found');
    } finally {
      await Promise.all([guarded.close(), off.close(), workerServer.close()]);
    }
  });

  test('metrics settings: defaults, off values, and a bad value named', () => {
    const base = { DATABASE_URL: 'postgres://u@127.0.0.1:1/d', TWILIO_ACCOUNT_SID: `AC${'a'.repeat(32)}`, TWILIO_AUTH_TOKEN: 'sandbox-token-123' };
    expect(loadConfig(base).metrics).toEqual({ apiEnabled: true, workerPort: 9464, temporalAddress: '0.0.0.0:9465' });
    expect(loadConfig({ ...base, API_METRICS_ENABLED: 'false', WORKER_METRICS_PORT: '0', TEMPORAL_METRICS_ADDRESS: 'off' }).metrics).toEqual({
      apiEnabled: false,
      workerPort: 0,
      temporalAddress: null,
    });
    expect(() => loadConfig({ ...base, TEMPORAL_METRICS_ADDRESS: 'localhost' })).toThrow(/TEMPORAL_METRICS_ADDRESS is invalid/);
    expect(() => loadConfig({ ...base, WORKER_METRICS_PORT: '70000' })).toThrow(ConfigError);
    expect(() => loadConfig({ ...base, METRICS_TOKEN: 'short' })).toThrow(/METRICS_TOKEN is invalid \(value hidden\)/);
  });
});
