import { leadPhones, OutdialTestStack } from '../helpers/outdial';

/** Retried and concurrent POSTs create once; the carrier is the witness that nothing was dialed twice. */
describe('idempotent requests and one dial per number', () => {
  let stack: OutdialTestStack;
  beforeAll(async () => {
    stack = await OutdialTestStack.start({ carrier: { defaultScript: { dialMs: 2, ringMs: 5, talkMs: 20 } } });
    await stack.startWorker();
  });
  afterAll(async () => {
    await stack.stop();
  });

  const perNumber = (callerId: string) => {
    const counts = new Map<string, number>();
    for (const c of stack.carrier.calls({ from: callerId })) counts.set(c.to, (counts.get(c.to) ?? 0) + 1);
    return counts;
  };

  test('two identical POST …/runs with one Idempotency-Key, sent at once, create one run: each lead dialed once; another body gets 422', async () => {
    const business = await stack.createBusiness();
    const phones = leadPhones(12, '+1415559');
    const body = { leads: phones.map((phone) => ({ phone })) };
    const headers = { 'idempotency-key': 'campaign-2026-12-01-a' };
    const [first, second] = await Promise.all([
      stack.api<{ run: { id: string; workflowId: string } }>('POST', `/v1/businesses/${business.id}/runs`, body, { headers }),
      stack.api<{ run: { id: string; workflowId: string } }>('POST', `/v1/businesses/${business.id}/runs`, body, { headers }),
    ]);
    expect([first.status, second.status]).toEqual([201, 201]);
    expect(second.body).toEqual(first.body);
    const runs = await stack.database.pool.query('SELECT id FROM bulk_call_runs WHERE business_id = $1', [business.id]);
    expect(runs.rows).toEqual([{ id: first.body.run.id }]);
    await stack.runResult(first.body.run);
    const counts = perNumber(business.callerId);
    expect([...counts.keys()].sort()).toEqual([...phones].sort());
    expect([...counts.values()].every((n) => n === 1)).toBe(true);

    // A retry much later replays the same answer and creates nothing.
    const retry = await stack.api('POST', `/v1/businesses/${business.id}/runs`, body, { headers });
    expect(retry.status).toBe(201);
    expect(retry.body).toEqual(first.body);
    const reused = await stack.api<{ error: { code: string } }>('POST', `/v1/businesses/${business.id}/runs`, { leads: [{ phone: phones[0] }] }, { headers });
    expect(reused.status).toBe(422);
    expect(reused.body.error.code).toBe('idempotency_key_reused');
    // Scoped to the caller's key: another key's use of the same header is its own.
    expect((await stack.database.pool.query('SELECT count(*)::int AS n FROM bulk_call_runs WHERE business_id = $1', [business.id])).rows[0].n).toBe(1);
    const minted = await stack.api<{ apiKey: { secret: string } }>('POST', `/v1/businesses/${business.id}/api-keys`, {});
    const own = await stack.api<{ run: { id: string } }>('POST', `/v1/businesses/${business.id}/runs`, { leads: [{ phone: '+14155590990' }] }, {
      headers,
      key: minted.body.apiKey.secret,
    });
    expect(own.status).toBe(201);
    expect(own.body.run.id).not.toBe(first.body.run.id);
  });

  test('direct calls, businesses and API keys: a retried create replays the first answer and creates nothing', async () => {
    const business = await stack.createBusiness({ maxConcurrentCalls: 1 });
    const call = { to: '+14155591001' };
    const headers = { 'idempotency-key': 'direct-1' };
    const [a, b] = await Promise.all([
      stack.api<{ call: { id: string } }>('POST', `/v1/businesses/${business.id}/calls`, call, { headers }),
      stack.api<{ call: { id: string } }>('POST', `/v1/businesses/${business.id}/calls`, call, { headers }),
    ]);
    // One call; a duplicate that arrives while the first is still dialing is told of the same call, as pending (202).
    expect(b.body.call.id).toBe(a.body.call.id);
    expect([a.status, b.status].sort()).toEqual(a.status === b.status ? [201, 201] : [201, 202]);
    const later = await stack.api<{ call: { id: string } }>('POST', `/v1/businesses/${business.id}/calls`, call, { headers });
    expect(later.status).toBe(201);
    expect(later.body.call.id).toBe(a.body.call.id);
    expect(stack.carrier.calls({ from: business.callerId }).map((c) => c.to)).toEqual([call.to]);

    const created = { name: 'Once', callerId: '+15005550006' };
    const bh = { 'idempotency-key': `business-${business.id}` };
    const [x, y] = await Promise.all([stack.api('POST', '/v1/businesses', created, { headers: bh }), stack.api('POST', '/v1/businesses', created, { headers: bh })]);
    expect([x.status, y.status]).toEqual([201, 201]);
    expect(y.body).toEqual(x.body);

    const kh = { 'idempotency-key': `key-${business.id}` };
    const k1 = await stack.api<{ apiKey: { id: string; secret: string } }>('POST', `/v1/businesses/${business.id}/api-keys`, { name: 'once' }, { headers: kh });
    const k2 = await stack.api<{ apiKey: { id: string; secret: string } }>('POST', `/v1/businesses/${business.id}/api-keys`, { name: 'once' }, { headers: kh });
    expect(k2.body).toEqual(k1.body);
    const keys = await stack.database.pool.query('SELECT id FROM api_keys WHERE business_id = $1', [business.id]);
    expect(keys.rows).toEqual([{ id: k1.body.apiKey.id }]);
    // The replayed secret is kept sealed: the idempotency table never holds it readable.
    const stored = await stack.database.pool.query('SELECT result::text FROM idempotency_keys');
    expect(JSON.stringify(stored.rows)).not.toContain(k1.body.apiKey.secret);

    const bad = await stack.api<{ error: { code: string } }>('POST', '/v1/businesses', created, { headers: { 'idempotency-key': 'has space' } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('invalid_idempotency_key');
  });

  test('a number listed twice in one run is dialed once, and the answer says how many rows were merged; allowDuplicates keeps them', async () => {
    const business = await stack.createBusiness();
    const phones = ['+14155592001', '+14155592002', '+14155592001', '+14155592003', '+14155592002', '+14155592001'];
    const res = await stack.api<{ run: { id: string; workflowId: string; duplicatesMerged: number }; duplicatesMerged: number }>(
      'POST',
      `/v1/businesses/${business.id}/runs`,
      { leads: phones.map((phone, i) => ({ phone, name: `Row ${i}` })) },
    );
    expect(res.status).toBe(201);
    expect(res.body.duplicatesMerged).toBe(3);
    const done = await stack.runResult(res.body.run);
    expect(done.jobs).toMatchObject({ total: 3, completed: 3 });
    expect(Object.fromEntries(perNumber(business.callerId))).toEqual({ '+14155592001': 1, '+14155592002': 1, '+14155592003': 1 });
    const leads = await stack.database.pool.query('SELECT phone, name FROM leads WHERE business_id = $1 ORDER BY phone', [business.id]);
    expect(leads.rows).toEqual([
      { phone: '+14155592001', name: 'Row 0' },
      { phone: '+14155592002', name: 'Row 1' },
      { phone: '+14155592003', name: 'Row 3' },
    ]);

    const other = await stack.createBusiness();
    const kept = await stack.createRun(other.id, ['+14155592101', '+14155592101'], { allowDuplicates: true });
    await stack.runResult(kept);
    expect(perNumber(other.callerId).get('+14155592101')).toBe(2);
  });
});
