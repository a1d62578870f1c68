import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createApp } from '../../src/api/app';
import { leadPhones, OutdialTestStack } from '../helpers/outdial';

/**
 * Keys and tenant isolation, against the running API: a business key sees its own business only,
 * and everything else "does not exist"; nothing changes in Postgres or at the carrier.
 */
describe('API keys and tenant isolation', () => {
  let stack: OutdialTestStack;
  beforeAll(async () => {
    stack = await OutdialTestStack.start({ carrier: { defaultScript: { dialMs: 2, ringMs: 5, talkMs: 400 } } });
    await stack.startWorker();
  });
  afterAll(async () => {
    await stack.stop();
  });

  async function mintKey(businessId: string, name = 'crm'): Promise<{ id: string; secret: string; prefix: string }> {
    const res = await stack.api<{ apiKey: { id: string; secret: string; prefix: string } }>('POST', `/v1/businesses/${businessId}/api-keys`, { name });
    expect(res.status).toBe(201);
    return res.body.apiKey;
  }

  /** Waits (bounded) until our own row says the call ended: its callbacks change nothing after that. */
  async function untilCallEnds(callId: string) {
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      const r = await stack.database.pool.query('SELECT ended_at FROM calls WHERE id = $1', [callId]);
      if (r.rows[0]?.ended_at) return;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    throw new Error(`call ${callId} did not end`);
  }

  /** Every row of a business that a request could change, as one comparable snapshot. */
  async function rowsOf(businessId: string) {
    const r = await stack.database.pool.query(
      `SELECT (SELECT row_to_json(b) FROM businesses b WHERE id = $1) AS business,
              (SELECT json_agg(r ORDER BY r.id) FROM bulk_call_runs r WHERE business_id = $1) AS runs,
              (SELECT json_agg(j ORDER BY j.id) FROM outbound_call_jobs j JOIN bulk_call_runs r ON r.id = j.run_id WHERE r.business_id = $1) AS jobs,
              (SELECT json_agg(c ORDER BY c.id) FROM calls c WHERE business_id = $1) AS calls,
              (SELECT json_agg(k.id ORDER BY k.id) FROM api_keys k WHERE business_id = $1 AND revoked_at IS NULL) AS live_keys`,
      [businessId],
    );
    return r.rows[0];
  }

  test("a business key on another business's business, runs and calls gets 404 for every route, and nothing changes", async () => {
    const a = await stack.createBusiness();
    const b = await stack.createBusiness({ maxConcurrentCalls: 1 });
    const keyA = await mintKey(a.id);
    const keyB = await mintKey(b.id);
    const runB = await stack.createRun(b.id, leadPhones(2, '+1415557'), { key: keyB.secret });
    await stack.runResult(runB);
    const callB = await stack.api<{ call: { id: string } }>('POST', `/v1/businesses/${b.id}/calls`, { to: '+14155570900' }, { key: keyB.secret });
    expect(callB.status).toBe(201);
    await untilCallEnds(callB.body.call.id);
    const before = await rowsOf(b.id);
    const carrierCallsBefore = stack.carrier.calls({ from: b.callerId }).length;

    const asA: [string, string, unknown?][] = [
      ['GET', `/v1/businesses/${b.id}`],
      ['POST', `/v1/businesses/${b.id}/runs`, { leads: [{ phone: '+14155570901' }] }],
      ['POST', `/v1/businesses/${b.id}/calls`, { to: '+14155570902' }],
      ['GET', `/v1/businesses/${b.id}/api-keys`],
      ['DELETE', `/v1/businesses/${b.id}/api-keys/${keyB.id}`],
      ['GET', `/v1/runs/${runB.id}`],
      ['POST', `/v1/runs/${runB.id}/pause`],
      ['POST', `/v1/runs/${runB.id}/resume`],
      ['POST', `/v1/runs/${runB.id}/cancel`],
      ['POST', `/v1/runs/${runB.id}/leads`, { leads: [{ phone: '+14155570903' }] }],
      ['POST', `/v1/runs/${runB.id}/close`],
      ['GET', `/v1/calls/${callB.body.call.id}`],
    ];
    for (const [method, path, body] of asA) {
      const res = await stack.api<{ error: { code: string; message: string } }>(method, path, body, { key: keyA.secret });
      expect([method, path, res.status, res.body.error.code]).toEqual([method, path, 404, 'not_found']);
      // Word for word what an unknown ID gets: a key learns nothing of what it may not see.
      const unknownId = path.replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, '00000000-0000-4000-8000-000000000000');
      const unknown = await stack.api<{ error: { code: string; message: string } }>(method, unknownId, body);
      expect(unknown.status).toBe(404);
    }
    expect(await rowsOf(b.id)).toEqual(before);
    expect(stack.carrier.calls({ from: b.callerId })).toHaveLength(carrierCallsBefore);
    // Its own business, runs and calls: all there.
    expect((await stack.api('GET', `/v1/businesses/${b.id}`, undefined, { key: keyB.secret })).status).toBe(200);
    expect((await stack.api('GET', `/v1/runs/${runB.id}`, undefined, { key: keyB.secret })).status).toBe(200);
    expect((await stack.api('GET', `/v1/calls/${callB.body.call.id}`, undefined, { key: keyB.secret })).status).toBe(200);
  });

  test('no key, a malformed or unknown key, and a revoked key get 401; admin-only routes with a business key get 403', async () => {
    const business = await stack.createBusiness();
    const key = await mintKey(business.id);
    for (const key_ of [null, 'not-a-key', `odk_${'x'.repeat(44)}`, key.secret.slice(0, -1) + (key.secret.endsWith('A') ? 'B' : 'A'), stack.adminKey + 'x']) {
      const res = await stack.api<{ error: { code: string } }>('GET', `/v1/businesses/${business.id}`, undefined, { key: key_ });
      expect([key_, res.status, res.body.error.code]).toEqual([key_, 401, 'unauthorized']);
    }
    const raw = await fetch(`${stack.apiUrl}/v1/businesses/${business.id}`, { headers: { authorization: `Basic ${Buffer.from('a:b').toString('base64')}` } });
    expect(raw.status).toBe(401);
    expect(raw.headers.get('www-authenticate')).toMatch(/^Bearer/);

    expect((await stack.api('GET', `/v1/businesses/${business.id}`, undefined, { key: key.secret })).status).toBe(200);
    const admin: [string, string, unknown][] = [
      ['POST', '/v1/businesses', { name: 'Sneaky', callerId: '+15005550006' }],
      ['PATCH', `/v1/businesses/${business.id}`, { maxConcurrentCalls: 1000 }],
      ['POST', `/v1/businesses/${business.id}/api-keys`, {}],
    ];
    const before = await rowsOf(business.id);
    for (const [method, path, body] of admin) {
      const res = await stack.api<{ error: { code: string } }>(method, path, body, { key: key.secret });
      expect([method, path, res.status, res.body.error.code]).toEqual([method, path, 403, 'forbidden']);
    }
    expect(await rowsOf(business.id)).toEqual(before);

    const revoked = await stack.api<{ apiKey: { revokedAt: string | null } }>('DELETE', `/v1/businesses/${business.id}/api-keys/${key.id}`, undefined, { key: key.secret });
    expect(revoked.status).toBe(200);
    expect(revoked.body.apiKey.revokedAt).not.toBeNull();
    expect((await stack.api('GET', `/v1/businesses/${business.id}`, undefined, { key: key.secret })).status).toBe(401);
  });

  test('keys: the secret is shown once and only a hash is stored; listed with prefix, created and last used', async () => {
    const business = await stack.createBusiness();
    const key = await mintKey(business.id, 'reporting');
    expect(key.secret).toMatch(/^odk_[A-Za-z0-9_-]{44}$/);
    expect(key.secret.startsWith(key.prefix)).toBe(true);
    const stored = await stack.database.pool.query('SELECT * FROM api_keys WHERE id = $1', [key.id]);
    expect(JSON.stringify(stored.rows)).not.toContain(key.secret.slice(16));
    expect((await stack.api('GET', `/v1/businesses/${business.id}`, undefined, { key: key.secret })).status).toBe(200);

    // The use is stamped beside the answer, not before it (src/domain/principal.ts): read until the list shows it.
    const list = () => stack.api<{ apiKeys: Record<string, unknown>[] }>('GET', `/v1/businesses/${business.id}/api-keys`);
    let listed = await list();
    while (listed.body.apiKeys[0]?.lastUsedAt === null) listed = await list();
    expect(listed.body.apiKeys).toEqual([
      { id: key.id, businessId: business.id, name: 'reporting', prefix: key.prefix, createdAt: expect.any(String), lastUsedAt: expect.any(String), revokedAt: null },
    ]);
    expect(JSON.stringify(listed.body)).not.toContain(key.secret);
    // No log line holds a key: neither the admin key, nor the minted secret, nor the signatures.
    const logs = JSON.stringify(stack.logs);
    expect(logs).not.toContain(key.secret);
    expect(logs).not.toContain(stack.adminKey);
    expect(stack.logs.some((l) => (l.req as { headers?: Record<string, string> } | undefined)?.headers?.authorization === '[redacted]')).toBe(true);
  });

  test('PATCH changes a business (admin only): a raised limit is used at once by a waiting run', async () => {
    const business = await stack.createBusiness({ maxConcurrentCalls: 1 });
    const bad = await stack.api<{ error: { code: string } }>('PATCH', `/v1/businesses/${business.id}`, { maxConcurrentCalls: 0 });
    expect(bad.status).toBe(400);
    expect((await stack.api('PATCH', `/v1/businesses/${business.id}`, {})).status).toBe(400);
    const changed = await stack.api<{ business: Record<string, unknown> }>('PATCH', `/v1/businesses/${business.id}`, { name: 'Renamed', maxConcurrentCalls: 2 });
    expect(changed.status).toBe(200);
    expect(changed.body.business).toMatchObject({ id: business.id, name: 'Renamed', maxConcurrentCalls: 2, callerId: business.callerId });
    const stored = await stack.database.pool.query('SELECT name, max_concurrent_calls FROM businesses WHERE id = $1', [business.id]);
    expect(stored.rows[0]).toEqual({ name: 'Renamed', max_concurrent_calls: 2 });
    const run = await stack.createRun(business.id, leadPhones(4, '+1415558'));
    await stack.runResult(run);
    expect(stack.carrier.stats().perFrom[business.callerId]?.peak).toBe(2);
  });

  test('security headers on every answer; a per-key rate limit answers 429 with Retry-After', async () => {
    const res = await fetch(`${stack.apiUrl}/healthz`);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('strict-transport-security')).toMatch(/max-age=/);
    expect(res.headers.get('x-powered-by')).toBeNull();

    const limited = http.createServer(createApp({ ...stack.deps(), config: { ...stack.config, apiRateLimitPerMinute: 5 } }));
    await new Promise<void>((r) => limited.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(limited.address() as AddressInfo).port}/v1/businesses/00000000-0000-4000-8000-000000000000`;
      const business = await stack.createBusiness();
      const other = await mintKey(business.id);
      const statuses: number[] = [];
      let last: Response | undefined;
      for (let i = 0; i < 7; i += 1) {
        last = await fetch(url, { headers: { authorization: `Bearer ${stack.adminKey}` } });
        statuses.push(last.status);
      }
      expect(statuses).toEqual([404, 404, 404, 404, 404, 429, 429]);
      expect(Number(last!.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(((await last!.json()) as { error: { code: string } }).error.code).toBe('rate_limited');
      // The budget is the key's own: another key is not held up.
      expect((await fetch(url, { headers: { authorization: `Bearer ${other.secret}` } })).status).toBe(404);
    } finally {
      limited.close();
    }
  });
});
