import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Database } from '../../src/db/client';
import { connectTestDatabase, createMigratedDatabase } from '../helpers/db';
import { leadPhones, OutdialTestStack, pollFor, pollUntil } from '../helpers/outdial';
import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import { WebhookReceiver } from '../helpers/webhook-receiver';

interface WebhookAnswer {
  webhook: { url: string; events: string[]; secret?: string; previousSecretExpiresAt: string | null; createdAt: string; updatedAt: string };
}
interface Delivery {
  eventId: string;
  type: string;
  status: string;
  attempts: number;
  lastStatusCode: number | null;
  lastError: string | null;
  nextAttemptAt: string | null;
  deliveredAt: string | null;
  createdAt: string;
}
/** A receiver that accepts connections and never answers. */
async function silentServer(): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer(() => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

interface DeliveryPage {
  data: Delivery[];
  nextCursor: string | null;
}

/**
 * A business's webhook through the API, and what its deliveries list shows, on a database of this
 * file's own (the dispatcher delivers every business's outbox) with an in-process dispatcher that
 * gives up after 3 attempts and waits 300 ms for an answer.
 */
describe('webhook API', () => {
  let admin: Database;
  let own: { url: string; drop(): Promise<void> };
  let stack: OutdialTestStack;
  const receivers: WebhookReceiver[] = [];
  /** What the dispatcher's onAttempt hook reported. */
  const attemptsSeen: { eventId: string; result: string }[] = [];

  beforeAll(async () => {
    admin = connectTestDatabase();
    own = await createMigratedDatabase(admin);
    stack = await OutdialTestStack.start({ databaseUrl: own.url, carrier: { defaultScript: { dialMs: 2, ringMs: 5, talkMs: 10 } } });
    await stack.startWorker();
    await stack.startWebhookDispatcher({ maxAttempts: 3, timeoutMs: 300, retryBaseSeconds: 0.05, retryMaxSeconds: 0.2 }, (a) => attemptsSeen.push(a));
  });
  afterAll(async () => {
    await stack?.stop();
    await Promise.all(receivers.map((r) => r.close()));
    await own?.drop();
    await admin?.close();
  });

  const base = (businessId: string) => `/v1/businesses/${businessId}/webhook`;
  const deliveries = (businessId: string, query = '') => stack.api<DeliveryPage>('GET', `/v1/businesses/${businessId}/webhook-deliveries${query}`);

  async function receiverFor(businessId: string, opts: { failFirst?: number; events?: string[] } = {}): Promise<WebhookReceiver> {
    const receiver = await WebhookReceiver.start(opts);
    receivers.push(receiver);
    const set = await stack.api<WebhookAnswer>('PUT', base(businessId), { url: receiver.url, ...(opts.events ? { events: opts.events } : {}) });
    expect(set.status).toBe(201);
    receiver.secret = set.body.webhook.secret!;
    return receiver;
  }

  test('set, read without the secret, change (same secret), rotate, remove', async () => {
    const business = await stack.createBusiness();
    const set = await stack.api<WebhookAnswer>('PUT', base(business.id), { url: 'https://hooks.example.com/outdial' });
    expect(set.status).toBe(201);
    expect(set.body.webhook).toMatchObject({
      url: 'https://hooks.example.com/outdial',
      events: ['call.completed', 'run.completed', 'run.paused', 'run.failed', 'run.canceled'],
    });
    const secret = set.body.webhook.secret!;
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
    expect(Buffer.from(secret.slice('whsec_'.length), 'base64').length).toBeGreaterThanOrEqual(24);

    const read = await stack.api<WebhookAnswer>('GET', base(business.id));
    expect(read.status).toBe(200);
    expect(read.body.webhook).toEqual({
      url: 'https://hooks.example.com/outdial',
      events: set.body.webhook.events,
      previousSecretExpiresAt: null,
      createdAt: set.body.webhook.createdAt,
      updatedAt: set.body.webhook.updatedAt,
    });

    const changed = await stack.api<WebhookAnswer>('PUT', base(business.id), { url: 'http://hooks.example.com/v2', events: ['call.answered', 'call.answered'] });
    expect(changed.status).toBe(200);
    expect(changed.body.webhook).toMatchObject({ url: 'http://hooks.example.com/v2', events: ['call.answered'], secret });

    const rotated = await stack.api<WebhookAnswer>('POST', `${base(business.id)}/rotate-secret`);
    expect(rotated.status).toBe(200);
    expect(rotated.body.webhook.secret).toMatch(/^whsec_/);
    expect(rotated.body.webhook.secret).not.toBe(secret);
    // The old secret signs alongside for a day by default.
    const overlapEnds = Date.parse(rotated.body.webhook.previousSecretExpiresAt!) - Date.now();
    expect(overlapEnds).toBeGreaterThan(86_400_000 - 60_000);
    expect(overlapEnds).toBeLessThanOrEqual(86_400_000);
    expect((await stack.api<WebhookAnswer>('GET', base(business.id))).body.webhook.previousSecretExpiresAt).toBe(rotated.body.webhook.previousSecretExpiresAt);
    for (const bad of [{ keepPreviousSeconds: -1 }, { keepPreviousSeconds: 604_801 }, { keepPreviousSeconds: 1.5 }, { keep: 1 }]) {
      const res = await stack.api<{ error: { message: string } }>('POST', `${base(business.id)}/rotate-secret`, bad);
      expect(res.status).toBe(400);
      expect(res.body.error.message).toMatch(/keepPreviousSeconds|keep/);
    }
    const stored = await stack.database.pool.query('SELECT secret FROM webhook_endpoints WHERE business_id = $1', [business.id]);
    expect(stored.rows[0].secret).toBe(rotated.body.webhook.secret);

    expect((await stack.api('DELETE', base(business.id))).body).toEqual({ deleted: true });
    expect((await stack.api('GET', base(business.id))).status).toBe(404);
    expect((await stack.api('DELETE', base(business.id))).status).toBe(404);
    expect((await stack.api('POST', `${base(business.id)}/rotate-secret`)).status).toBe(404);
  });

  test('after a rotation both secrets verify each delivery until the overlap ends; a rotation with no overlap stops the old one at once', async () => {
    const business = await stack.createBusiness();
    const receiver = await receiverFor(business.id, { events: ['run.completed'] });
    const first = receiver.secret!;
    const rotated = (await stack.api<WebhookAnswer>('POST', `${base(business.id)}/rotate-secret`, { keepPreviousSeconds: 3600 })).body.webhook.secret!;
    await stack.runResult(await stack.createRun(business.id, leadPhones(1, '+1415597')));
    await pollFor(() => Promise.resolve(receiver.accepted.length), (n) => n === 1);
    const [overlapping] = receiver.accepted;
    expect(overlapping!.headers['webhook-signature']!.split(' ')).toHaveLength(2);
    for (const secret of [first, rotated]) expect(new Webhook(secret).verify(overlapping!.raw, overlapping!.headers)).toMatchObject({ type: 'run.completed' });

    const leakedOver = (await stack.api<WebhookAnswer>('POST', `${base(business.id)}/rotate-secret`, { keepPreviousSeconds: 0 })).body;
    expect(leakedOver.webhook.previousSecretExpiresAt).toBeNull();
    // The receiver still holds the first secret: it refuses what comes now, and the newest verifies it.
    await stack.runResult(await stack.createRun(business.id, leadPhones(1, '+1415598')));
    await pollFor(() => Promise.resolve(receiver.rejected.length), (n) => n >= 1);
    const refused = receiver.rejected[0]!;
    expect(refused.headers['webhook-signature']!.split(' ')).toHaveLength(1);
    expect(() => new Webhook(rotated).verify(refused.raw, refused.headers)).toThrow(WebhookVerificationError);
    expect(new Webhook(leakedOver.webhook.secret!).verify(refused.raw, refused.headers)).toMatchObject({ type: 'run.completed' });
  });

  test("a direct call's call.completed carries the call, with no run and no lead", async () => {
    const business = await stack.createBusiness();
    const receiver = await receiverFor(business.id, { events: ['call.completed'] });
    const call = await stack.api<{ call: { id: string } }>('POST', `/v1/businesses/${business.id}/calls`, { to: '+14155599001' });
    expect(call.status).toBe(201);
    await pollFor(() => Promise.resolve(receiver.accepted.length), (n) => n === 1);
    expect(receiver.accepted[0]!.body).toMatchObject({
      type: 'call.completed',
      data: { callId: call.body.call.id, direction: 'direct', to: '+14155599001', from: business.callerId, outcome: 'completed', runId: null, jobId: null, lead: null },
    });
  });

  test('a bad URL or event name is a 400 naming it; nothing is written', async () => {
    const business = await stack.createBusiness();
    const cases: [unknown, RegExp][] = [
      [{ url: 'not a url' }, /url: must be an http\(s\) URL/],
      [{ url: 'ftp://example.com/x' }, /url: must be an http\(s\) URL/],
      [{ url: 'javascript:alert(1)' }, /url: must be an http\(s\) URL/],
      [{}, /url/],
      [{ url: 'https://example.com', events: ['call.exploded'] }, /events\.0: must be one of call\.dialed/],
      [{ url: 'https://example.com', events: [] }, /events: must name at least one event/],
      [{ url: 'https://example.com', secret: 'whsec_mine' }, /secret/],
    ];
    for (const [body, message] of cases) {
      const res = await stack.api<{ error: { code: string; message: string } }>('PUT', base(business.id), body);
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('invalid_request');
      expect(res.body.error.message).toMatch(message);
    }
    expect((await stack.database.pool.query('SELECT 1 FROM webhook_endpoints WHERE business_id = $1', [business.id])).rowCount).toBe(0);
  });

  test("a business key sets its own business's webhook, and another business's is 404 with nothing changed", async () => {
    const a = await stack.createBusiness();
    const b = await stack.createBusiness();
    const keyA = (await stack.api<{ apiKey: { secret: string } }>('POST', `/v1/businesses/${a.id}/api-keys`, {})).body.apiKey.secret;
    await stack.api('PUT', base(b.id), { url: 'https://b.example.com/hook' });
    const before = (await stack.database.pool.query('SELECT * FROM webhook_endpoints WHERE business_id = $1', [b.id])).rows;

    expect((await stack.api('PUT', base(a.id), { url: 'https://a.example.com/hook' }, { key: keyA })).status).toBe(201);
    for (const [method, path, body] of [
      ['PUT', base(b.id), { url: 'https://evil.example.com/hook' }],
      ['GET', base(b.id), undefined],
      ['DELETE', base(b.id), undefined],
      ['POST', `${base(b.id)}/rotate-secret`, undefined],
      ['GET', `/v1/businesses/${b.id}/webhook-deliveries`, undefined],
    ] as const) {
      const res = await stack.api<{ error: { code: string } }>(method, path, body, { key: keyA });
      expect(res.status).toBe(404);
      expect(res.body.error.code).toBe('not_found');
    }
    expect((await stack.database.pool.query('SELECT * FROM webhook_endpoints WHERE business_id = $1', [b.id])).rows).toEqual(before);
  });

  test('leads added to a run arrive as leads.added, verified, with what was added and the run’s new counts', async () => {
    const business = await stack.createBusiness();
    const receiver = await receiverFor(business.id, { events: ['leads.added'] });
    const created = await stack.api<{ run: { id: string } }>('POST', `/v1/businesses/${business.id}/runs`, {
      leads: [{ phone: '+14155920001' }],
      startAt: new Date(Date.now() + 3_600_000).toISOString(),
    });
    const runId = created.body.run.id;
    expect((await stack.api('POST', `/v1/runs/${runId}/leads`, { leads: [{ phone: '+14155920002' }, { phone: '+14155920001' }] })).status).toBe(201);
    await pollUntil(async () => receiver.accepted.length === 1);
    expect(receiver.rejected).toEqual([]);
    expect(receiver.accepted[0]!.body).toMatchObject({ type: 'leads.added', data: { runId, added: 1, duplicatesMerged: 1, jobs: { total: 2, queued: 2 } } });
    expect((await stack.api('POST', `/v1/runs/${runId}/cancel`)).status).toBe(200);
  });

  test('a receiver that always fails: each delivery ends failed after 3 attempts, with the status code; the list pages newest first and filters', async () => {
    const business = await stack.createBusiness();
    const receiver = await receiverFor(business.id, { failFirst: Number.POSITIVE_INFINITY });
    const run = await stack.createRun(business.id, leadPhones(3, '+1415591'));
    await stack.runResult(run);
    // 3 call.completed and the run.completed.
    const all = await pollFor(
      () => deliveries(business.id),
      (r) => r.body.data.length === 4 && r.body.data.every((d) => d.status === 'failed'),
    );
    expect(all.status).toBe(200);
    for (const d of all.body.data) {
      expect(d).toMatchObject({ status: 'failed', attempts: 3, lastStatusCode: 500, lastError: 'the receiver answered HTTP 500', nextAttemptAt: null, deliveredAt: null });
      expect(d.eventId).toMatch(/^evt_\d+$/);
    }
    expect(all.body.data[0]!.type).toBe('run.completed');
    expect(all.body.data.map((d) => d.type).sort()).toEqual(['call.completed', 'call.completed', 'call.completed', 'run.completed']);
    expect(receiver.requests).toBe(12);

    // Newest first, one at a time: the same four, each once, in the same order.
    const paged: Delivery[] = [];
    let cursor: string | null = null;
    do {
      const page: { status: number; body: DeliveryPage } = await deliveries(business.id, `?limit=1${cursor ? `&cursor=${cursor}` : ''}`);
      expect(page.status).toBe(200);
      expect(page.body.data.length).toBeLessThanOrEqual(1);
      paged.push(...page.body.data);
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(paged).toEqual(all.body.data);

    expect((await deliveries(business.id, '?status=failed')).body.data).toHaveLength(4);
    expect((await deliveries(business.id, '?status=pending,delivered')).body.data).toEqual([]);
    for (const [query, name] of [
      ['?status=lost', /status/],
      ['?cursor=nope', /cursor/],
      ['?limit=0', /limit/],
      ['?limit=201', /limit/],
      ['?colour=red', /colour|Unrecognized/],
    ] as const) {
      const res = await stack.api<{ error: { message: string } }>('GET', `/v1/businesses/${business.id}/webhook-deliveries${query}`);
      expect(res.status).toBe(400);
      expect(res.body.error.message).toMatch(name);
    }
  });

  test('only subscribed types are delivered; a receiver that never answers gets retried with the timeout as its error', async () => {
    const quiet = await stack.createBusiness();
    const receiver = await receiverFor(quiet.id, { events: ['run.completed'] });
    const run = await stack.createRun(quiet.id, leadPhones(2, '+1415592'));
    await stack.runResult(run);
    await pollFor(() => deliveries(quiet.id), (r) => r.body.data.some((d) => d.status === 'delivered'));
    expect((await deliveries(quiet.id)).body.data.map((d) => [d.type, d.status, d.attempts, d.lastStatusCode])).toEqual([['run.completed', 'delivered', 1, 204]]);
    expect(receiver.accepted.map((w) => [w.body.type, w.body.data.runId, w.body.data.status])).toEqual([['run.completed', run.id, 'completed']]);

    const silent = await silentServer();
    try {
      const business = await stack.createBusiness();
      await stack.api('PUT', base(business.id), { url: silent.url, events: ['run.completed'] });
      await stack.runResult(await stack.createRun(business.id, leadPhones(1, '+1415593')));
      const failed = await pollFor(() => deliveries(business.id), (r) => r.body.data[0]?.status === 'failed');
      expect(failed.body.data[0]).toMatchObject({ type: 'run.completed', attempts: 3, lastStatusCode: null, lastError: 'no answer within 300 ms' });
    } finally {
      await silent.close();
    }
  });

  test('removing the webhook ends its pending deliveries as failed, also one whose attempt is in flight', async () => {
    const silent = await silentServer();
    try {
      const business = await stack.createBusiness();
      await stack.api('PUT', base(business.id), { url: silent.url, events: ['run.completed'] });
      await stack.runResult(await stack.createRun(business.id, leadPhones(1, '+1415594')));
      // Its first attempt is waiting for an answer (3 attempts of 300 ms each are far from done).
      await pollFor(() => deliveries(business.id), (r) => (r.body.data[0]?.attempts ?? 0) >= 1);
      expect((await stack.api('DELETE', base(business.id))).status).toBe(200);
      expect((await deliveries(business.id)).body.data[0]).toMatchObject({ status: 'failed', lastError: 'the webhook was removed', nextAttemptAt: null });
      // The attempt in flight times out and finds the delivery already ended: it stays as it is.
      const eventId = (await deliveries(business.id)).body.data[0]!.eventId;
      await pollFor(() => Promise.resolve(attemptsSeen.filter((a) => a.eventId === eventId)), (seen) => seen.length > 0);
      expect((await deliveries(business.id)).body.data[0]).toMatchObject({ status: 'failed', lastError: 'the webhook was removed', attempts: 1 });
    } finally {
      await silent.close();
    }
  });
});
