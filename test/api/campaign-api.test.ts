import { OutdialTestStack } from '../helpers/outdial';

/**
 * The campaign fields and the do-not-call routes at the API: what is accepted, what is refused
 * (4xx naming the problem, nothing written), pagination, and tenant isolation of the lists.
 */
describe('campaign API', () => {
  let stack: OutdialTestStack;
  beforeAll(async () => {
    stack = await OutdialTestStack.start();
  });
  afterAll(async () => {
    await stack.stop();
  });

  const runsOf = async (businessId: string) => Number((await stack.database.pool.query('SELECT count(*) FROM bulk_call_runs WHERE business_id = $1', [businessId])).rows[0].count);

  test('a business keeps its caller IDs, reserved direct slots and default voice app; reserved slots must leave runs one', async () => {
    const created = await stack.api<{ business: Record<string, unknown> }>('POST', '/v1/businesses', {
      name: 'Fields',
      callerId: '+16505557001',
      callerIds: ['+16505557002', '+16505557001'],
      maxConcurrentCalls: 4,
      reservedDirectSlots: 1,
      voiceApp: { url: 'https://voice.example.com/agent?v=2' },
    });
    expect(created.status).toBe(201);
    expect(created.body.business).toMatchObject({
      callerId: '+16505557001',
      callerIds: ['+16505557001', '+16505557002'],
      maxConcurrentCalls: 4,
      reservedDirectSlots: 1,
      voiceApp: { url: 'https://voice.example.com/agent?v=2', method: 'POST' },
    });
    const id = created.body.business.id as string;

    const tooMany = await stack.api('PATCH', `/v1/businesses/${id}`, { maxConcurrentCalls: 1 });
    expect(tooMany).toMatchObject({ status: 400, body: { error: { code: 'invalid_request' } } });
    expect((tooMany.body as { error: { message: string } }).error.message).toContain('reservedDirectSlots (1) must be less than maxConcurrentCalls (1)');
    expect((await stack.api('POST', '/v1/businesses', { name: 'x', callerId: '+16505557003', maxConcurrentCalls: 2, reservedDirectSlots: 2 })).status).toBe(400);

    // A new default keeps the old one owned; the voice app can be reset to Outdial's greeting.
    const changed = await stack.api<{ business: Record<string, unknown> }>('PATCH', `/v1/businesses/${id}`, { callerId: '+16505557004', voiceApp: null });
    expect(changed.body.business).toMatchObject({ callerId: '+16505557004', callerIds: ['+16505557004', '+16505557001', '+16505557002'], voiceApp: null });
  });

  test.each([
    [{ voiceApp: { url: 'https://a.example.com/x', twiml: '<Response/>' } }, 'voiceApp: give exactly one of url, twiml or applicationSid'],
    [{ voiceApp: { url: 'ftp://a.example.com/x' } }, 'voiceApp.url'],
    [{ voiceApp: { url: 'https://bad_host.example.com/x' } }, 'voiceApp.url'],
    [{ voiceApp: { twiml: 'Say hello' } }, 'voiceApp.twiml'],
    [{ voiceApp: { twiml: `<Response><Say>${'a'.repeat(4000)}</Say></Response>` } }, 'voiceApp.twiml'],
    [{ voiceApp: { applicationSid: 'AP123' } }, 'voiceApp.applicationSid'],
    [{ voiceApp: { twiml: '<Response/>', method: 'GET' } }, 'voiceApp.method'],
    [{ machineDetection: { mode: 'Maybe' } }, 'machineDetection.mode'],
    [{ machineDetection: { mode: 'Enable', timeoutSeconds: 2 } }, 'machineDetection.timeoutSeconds'],
    [{ machineDetection: { mode: 'Enable', onMachine: 'voicemail' } }, 'machineDetection.onMachine'],
    [{ maxConcurrentCalls: 0 }, 'maxConcurrentCalls'],
    [{ callerId: '415' }, 'callerId'],
  ].map(([fields, named]) => [named as string, fields as Record<string, unknown>] as const))('a run with a bad %s is refused with 400 naming it; nothing is written', async (named, fields) => {
    const business = await stack.createBusiness();
    const res = await stack.api<{ error: { code: string; message: string } }>('POST', `/v1/businesses/${business.id}/runs`, { leads: [{ phone: '+14155550100' }], ...fields });
    expect(res.status).toBe(400);
    expect(res.body.error.message).toContain(named);
    expect(await runsOf(business.id)).toBe(0);
  });

  test("bad variables reject the run with every row's problem; nothing is written", async () => {
    const business = await stack.createBusiness();
    const res = await stack.api<{ error: { code: string; details: { index: number; field: string }[] } }>('POST', `/v1/businesses/${business.id}/runs`, {
      leads: [
        { phone: '+14155550101', variables: { appointment: 'Tue 9:30' } },
        { phone: '+14155550102', variables: { Name: 'x' } },
        { phone: '+14155550103', variables: { outdial_run_id: 'x' } },
        { phone: '+14155550104', variables: { note: 'x'.repeat(501) } },
        { phone: '+14155550105', variables: { n: 3 } },
        { phone: '+14155550106', variables: Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`v${i}`, 'x'])) },
      ],
    });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid_leads');
    expect([...new Set(res.body.error.details.map((d) => d.index))]).toEqual([1, 2, 3, 4, 5]);
    expect(await runsOf(business.id)).toBe(0);
  });

  test('a caller ID the business does not own, or a cap above its limit, is refused with 422 and nothing is written', async () => {
    const business = await stack.createBusiness({ maxConcurrentCalls: 2 });
    const notOwned = await stack.api('POST', `/v1/businesses/${business.id}/runs`, { leads: [{ phone: '+14155550100' }], callerId: '+16505557999' }, { headers: { 'Idempotency-Key': 'cid-1' } });
    expect(notOwned).toMatchObject({ status: 422, body: { error: { code: 'caller_id_not_owned', details: { callerIds: [business.callerId] } } } });
    const cap = await stack.api('POST', `/v1/businesses/${business.id}/runs`, { leads: [{ phone: '+14155550100' }], maxConcurrentCalls: 3 });
    expect(cap).toMatchObject({ status: 422, body: { error: { code: 'cap_above_limit' } } });
    const direct = await stack.api('POST', `/v1/businesses/${business.id}/calls`, { to: '+14155550100', callerId: '+16505557999' });
    expect(direct).toMatchObject({ status: 422, body: { error: { code: 'caller_id_not_owned' } } });
    expect(await runsOf(business.id)).toBe(0);
    expect(Number((await stack.database.pool.query('SELECT count(*) FROM calls WHERE business_id = $1', [business.id])).rows[0].count)).toBe(0);
    // The refused request left no idempotency record: the same key with a good body creates the run.
    const retried = await stack.api('POST', `/v1/businesses/${business.id}/runs`, { leads: [{ phone: '+14155550100' }], callerId: business.callerId }, { headers: { 'Idempotency-Key': 'cid-1' } });
    expect(retried.status).toBe(201);
  });

  test('a do-not-call list: add many (written forms normalised to E.164), page through it, check one, remove one', async () => {
    const business = await stack.createBusiness();
    const base = `/v1/businesses/${business.id}/do-not-call`;
    const added = await stack.api('POST', base, { numbers: ['+1 (415) 555-0105', '+14155550101', '+14155550103', '+14155550102', '+14155550104', '+14155550101'], reason: 'opt-out' });
    expect(added).toMatchObject({ status: 200, body: { added: 5, alreadyListed: 0 } });
    expect((await stack.api('POST', base, { numbers: ['+14155550101', '+14155550106'] })).body).toEqual({ added: 1, alreadyListed: 1 });

    const seen: string[] = [];
    let after: string | null = null;
    let pages = 0;
    do {
      const page: { body: { numbers: { phone: string; list: string; reason: string | null }[]; next: string | null } } = await stack.api('GET', `${base}?limit=2${after ? `&after=${encodeURIComponent(after)}` : ''}`);
      seen.push(...page.body.numbers.map((n) => n.phone));
      after = page.body.next;
      pages++;
    } while (after && pages < 10);
    expect(seen).toEqual(['+14155550101', '+14155550102', '+14155550103', '+14155550104', '+14155550105', '+14155550106']);
    expect(pages).toBe(3);

    expect((await stack.api('GET', `${base}/+14155550103`)).body).toMatchObject({ phone: '+14155550103', listed: true, entries: [{ list: 'business', reason: 'opt-out' }] });
    expect((await stack.api('GET', `${base}/+14155550199`)).body).toEqual({ phone: '+14155550199', listed: false, entries: [] });
    expect((await stack.api('DELETE', `${base}/+14155550103`)).status).toBe(200);
    expect((await stack.api('DELETE', `${base}/+14155550103`)).status).toBe(404);
    expect((await stack.api('GET', `${base}/+14155550103`)).body).toMatchObject({ listed: false });

    const bad = await stack.api<{ error: { message: string } }>('POST', base, { numbers: ['+14155550107', 'call me maybe'] });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toContain('numbers.1');
    expect((await stack.api('GET', `${base}/not-a-number`)).status).toBe(400);
    expect((await stack.api('GET', `${base}?limit=0`)).status).toBe(400);
  });

  test("another business's key sees no list of this business; an unknown business has none", async () => {
    const [a, b] = [await stack.createBusiness(), await stack.createBusiness()];
    const keyB = (await stack.api<{ apiKey: { secret: string } }>('POST', `/v1/businesses/${b.id}/api-keys`, {})).body.apiKey.secret;
    await stack.api('POST', `/v1/businesses/${a.id}/do-not-call`, { numbers: ['+14155550120'] });
    for (const [method, path, body] of [
      ['GET', `/v1/businesses/${a.id}/do-not-call`],
      ['GET', `/v1/businesses/${a.id}/do-not-call/+14155550120`],
      ['POST', `/v1/businesses/${a.id}/do-not-call`, { numbers: ['+14155550121'] }],
      ['DELETE', `/v1/businesses/${a.id}/do-not-call/+14155550120`],
    ] as const) {
      expect((await stack.api(method, path, body, { key: keyB })).status).toBe(404);
    }
    expect((await stack.api('GET', '/v1/businesses/00000000-0000-4000-8000-000000000000/do-not-call')).status).toBe(404);
    expect((await stack.api('GET', `/v1/businesses/${a.id}/do-not-call/+14155550120`)).body).toMatchObject({ listed: true });
  });
});
