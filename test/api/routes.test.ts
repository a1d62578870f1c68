import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createApp } from '../../src/api/app';
import { createDatabase } from '../../src/db/client';
import { createTelephonyClient } from '../../src/telephony/client';
import { OutdialTestStack } from '../helpers/outdial';

describe('API routes', () => {
  let stack: OutdialTestStack;
  beforeAll(async () => {
    stack = await OutdialTestStack.start();
    await stack.startWorker();
  });
  afterAll(async () => {
    await stack.stop();
  });

  test('GET /healthz reports Postgres and Temporal reachable', async () => {
    const res = await stack.api('GET', '/healthz');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok', postgres: { ok: true }, temporal: { ok: true } });
  });

  test('GET /healthz names the service that is down, with a 503', async () => {
    const deps = stack.deps();
    const deadDb = createDatabase('postgres://outdial:outdial@127.0.0.1:1/outdial', { max: 1 });
    const server = http.createServer(createApp({ ...deps, database: deadDb }));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/healthz`);
      expect(res.status).toBe(503);
      const body = (await res.json()) as Record<string, { ok: boolean; error?: string }>;
      expect(body.postgres).toMatchObject({ ok: false, error: expect.stringContaining('ECONNREFUSED') });
      expect(body.temporal).toEqual({ ok: true });
    } finally {
      server.close();
      await deadDb.close();
    }
  });

  test('businesses: defaults, validation errors name the field, unknown IDs are 404', async () => {
    const created = await stack.api<{ business: Record<string, unknown> }>('POST', '/v1/businesses', { name: 'Acme', callerId: '+15005550006' });
    expect(created.status).toBe(201);
    expect(created.body.business).toMatchObject({ name: 'Acme', callerId: '+15005550006', maxConcurrentCalls: 3, activeCalls: 0 });
    const bad = await stack.api<{ error: { code: string; message: string } }>('POST', '/v1/businesses', { name: '', callerId: '555', maxConcurrentCalls: 0 });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('invalid_request');
    expect(bad.body.error.message).toMatch(/name/);
    expect(bad.body.error.message).toMatch(/callerId/);
    expect(bad.body.error.message).toMatch(/maxConcurrentCalls/);
    expect((await stack.api('GET', '/v1/businesses/not-a-uuid')).status).toBe(404);
    expect((await stack.api('GET', `/v1/businesses/${created.body.business.id}`)).status).toBe(200);
  });

  test('a run with any invalid lead is rejected with per-row errors and writes nothing', async () => {
    const business = await stack.createBusiness();
    const counts = () =>
      stack.database.pool.query(
        'SELECT (SELECT count(*) FROM leads WHERE business_id = $1) AS leads, (SELECT count(*) FROM bulk_call_runs WHERE business_id = $1) AS runs',
        [business.id],
      );
    const before = await counts();
    expect(before.rows[0]).toEqual({ leads: '0', runs: '0' });
    const res = await stack.api<{ error: { code: string; details: { index: number; field: string }[] } }>('POST', `/v1/businesses/${business.id}/runs`, {
      leads: [{ phone: '+14155550100' }, { phone: '4155550101' }, { phone: '+14155550102', name: 'Ok' }, { name: 'no phone' }, { phone: '+19999999999' }],
    });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid_leads');
    expect(res.body.error.details.map((d) => [d.index, d.field])).toEqual([
      [1, 'phone'],
      [3, 'phone'],
      [4, 'phone'],
    ]);
    expect((await counts()).rows[0]).toEqual({ leads: '0', runs: '0' });
    expect((await stack.api('POST', `/v1/businesses/${business.id}/runs`, { leads: [] })).status).toBe(400);
    expect((await stack.api('POST', '/v1/businesses/00000000-0000-4000-8000-000000000000/runs', { leads: [{ phone: '+14155550100' }] })).status).toBe(404);
  });

  test('malformed JSON and unknown routes get JSON errors, never a stack trace', async () => {
    const res = await fetch(`${stack.apiUrl}/v1/businesses`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"name": ' });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('malformed_json');
    expect(JSON.stringify(body)).not.toMatch(/\bat \w+ \(/);
    const missing = await stack.api<{ error: { code: string } }>('GET', '/v1/nothing');
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('route_not_found');
  });

  test('a direct call is placed through the carrier and readable at GET /v1/calls/:callId', async () => {
    const business = await stack.createBusiness();
    const res = await stack.api<{ call: { id: string; status: string; twilioCallSid: string; direction: string } }>('POST', `/v1/businesses/${business.id}/calls`, {
      to: '+14155550150',
    });
    expect(res.status).toBe(201);
    expect(res.body.call.direction).toBe('direct');
    expect(res.body.call.twilioCallSid).toMatch(/^CA[0-9a-f]{32}$/);
    const atCarrier = stack.carrier.calls({ from: business.callerId });
    expect(atCarrier.map((c) => c.sid)).toEqual([res.body.call.twilioCallSid]);
    const got = await stack.api<{ call: { id: string } }>('GET', `/v1/calls/${res.body.call.id}`);
    expect(got.status).toBe(200);
    expect(got.body.call.id).toBe(res.body.call.id);
    expect((await stack.api('POST', `/v1/businesses/${business.id}/calls`, { to: 'nope' })).status).toBe(400);
  });

  test('a direct call the carrier certainly did not take (429 after retries, or unreachable) frees its slot at once', async () => {
    const business = await stack.createBusiness({ maxConcurrentCalls: 1 });
    const rowsOf = async () => Number((await stack.database.pool.query('SELECT count(*) FROM calls WHERE business_id = $1', [business.id])).rows[0].count);

    stack.carrier.injectFaults({ create429: 10 });
    const shed = await stack.api<{ error: { code: string } }>('POST', `/v1/businesses/${business.id}/calls`, { to: '+14155550160' });
    expect(shed.status).toBe(503);
    expect(shed.body.error.code).toBe('carrier_unavailable');
    expect(shed.headers.get('retry-after')).toBe('5');
    expect(stack.carrier.requests().filter((r) => r.status === 429).length).toBeGreaterThanOrEqual(4);
    expect(await rowsOf()).toBe(0);
    stack.carrier.reset();

    const deps = stack.deps();
    const unreachable = http.createServer(
      createApp({ ...deps, telephony: createTelephonyClient({ ...stack.config.twilio, apiBaseUrl: 'http://127.0.0.1:1' }) }),
    );
    await new Promise<void>((r) => unreachable.listen(0, '127.0.0.1', r));
    try {
      const res = await fetch(`http://127.0.0.1:${(unreachable.address() as AddressInfo).port}/v1/businesses/${business.id}/calls`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${stack.adminKey}` },
        body: JSON.stringify({ to: '+14155550161' }),
      });
      expect(res.status).toBe(503);
      expect(await rowsOf()).toBe(0);
    } finally {
      unreachable.close();
    }
    // The one slot is free: a call now goes through.
    expect((await stack.api('POST', `/v1/businesses/${business.id}/calls`, { to: '+14155550162' })).status).toBe(201);
  });

  test('while Postgres is unreachable, API requests and carrier callbacks get 503 with Retry-After, never a 500', async () => {
    const down = createDatabase('postgres://outdial@127.0.0.1:1/outdial', { max: 1 });
    const server = http.createServer(createApp({ ...stack.deps(), database: down }));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const requests = [
        fetch(`${base}/v1/runs/${randomUUID()}`, { headers: { authorization: `Bearer ${stack.adminKey}` } }),
        fetch(`${base}/v1/businesses`, { headers: { authorization: `Bearer ${stack.adminKey}` } }),
        fetch(`${base}/v1/twilio/status?callId=${randomUUID()}`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': 'unchecked-yet' },
          body: 'CallSid=CA00000000000000000000000000000001&CallStatus=completed',
        }),
      ];
      for (const res of await Promise.all(requests)) {
        expect([res.status, res.headers.get('retry-after'), ((await res.json()) as { error: { code: string } }).error.code]).toEqual([503, '5', 'unavailable']);
      }
    } finally {
      server.close();
      await down.close();
    }
  });
});
