import type { Database } from '../../src/db/client';
import type { ManagedProcess } from '../../src/dev/processes';
import { connectTestDatabase, createMigratedDatabase } from '../helpers/db';
import { leadPhones, OutdialTestStack, pollUntil, TEST_WEBHOOK_SETTINGS } from '../helpers/outdial';
import { WebhookReceiver } from '../helpers/webhook-receiver';

/**
 * At-least-once delivery through worker processes (src/worker.ts runs the dispatcher): a receiver
 * that fails, goes down, and a worker killed with SIGKILL meanwhile; and a receiver down for a
 * whole run, which dials as if there were no webhook. On a database of this file's own.
 */
describe('webhook delivery from worker processes', () => {
  let admin: Database;
  let own: { url: string; drop(): Promise<void> };
  let stack: OutdialTestStack;
  const workers: ManagedProcess[] = [];
  const receivers: WebhookReceiver[] = [];
  // Retries at most 5 s apart for 100 attempts (over 6 min): the receiver stays down through a worker's restart and a slow run on a loaded machine, and no delivery runs out of attempts before it comes back.
  const webhookEnv = {
    WEBHOOK_TIMEOUT_MS: String(TEST_WEBHOOK_SETTINGS.timeoutMs),
    WEBHOOK_MAX_ATTEMPTS: '100',
    WEBHOOK_RETRY_BASE_SECONDS: String(TEST_WEBHOOK_SETTINGS.retryBaseSeconds),
    WEBHOOK_RETRY_MAX_SECONDS: '5',
    WEBHOOK_CONCURRENCY: String(TEST_WEBHOOK_SETTINGS.concurrency),
  };

  beforeAll(async () => {
    admin = connectTestDatabase();
    own = await createMigratedDatabase(admin);
    // Calls of ~300 ms: a run of 12 leads at 3 at a time lasts several waves.
    stack = await OutdialTestStack.start({ databaseUrl: own.url, carrier: { defaultScript: { dialMs: 2, ringMs: 5, talkMs: 300 } } });
    workers.push(await stack.startWorkerProcess({ env: webhookEnv }));
  });
  afterAll(async () => {
    await Promise.all(workers.map((w) => w.stop()));
    await Promise.all(receivers.map((r) => r.close()));
    await stack?.stop();
    await own?.drop();
    await admin?.close();
  });

  async function receiverFor(businessId: string, opts: { failFirst?: number } = {}): Promise<WebhookReceiver> {
    const receiver = await WebhookReceiver.start(opts);
    receivers.push(receiver);
    const set = await stack.api<{ webhook: { secret: string } }>('PUT', `/v1/businesses/${businessId}/webhook`, { url: receiver.url });
    expect(set.status).toBe(201);
    receiver.secret = set.body.webhook.secret;
    return receiver;
  }

  const deliveryRows = async (businessId: string) =>
    (
      await stack.database.pool.query<{ event_id: string; type: string; status: string; attempts: number; last_status_code: number | null; last_error: string | null }>(
        'SELECT event_id::text, type, status, attempts, last_status_code, last_error FROM webhook_deliveries WHERE business_id = $1',
        [businessId],
      )
    ).rows;

  const completedEventIds = async (runId: string) =>
    (await stack.database.pool.query<{ id: string }>("SELECT 'evt_' || id AS id FROM events WHERE run_id = $1 AND type = 'call.completed'", [runId])).rows.map((r) => r.id);

  test('every call.completed of a run arrives at least once, verified, through 500s, a receiver down and a worker killed meanwhile', async () => {
    const business = await stack.createBusiness();
    const receiver = await receiverFor(business.id, { failFirst: 2 });
    // Down right after the first delivery it accepts (after two 500s).
    let down: Promise<void> | null = null;
    receiver.onAccepted = () => (down ??= receiver.close());
    const phones = leadPhones(12, '+1415595');
    const run = await stack.createRun(business.id, phones);

    await pollUntil(async () => down !== null);
    await down;
    const killed = workers[0]!;
    killed.child.kill('SIGKILL');
    await killed.exited;
    const attemptsBefore = (await deliveryRows(business.id)).reduce((n, d) => n + d.attempts, 0);
    workers.push(await stack.startWorkerProcess({ env: webhookEnv }));
    // The new worker's dispatcher tries the down receiver: refused, and retried.
    await pollUntil(async () => {
      const rows = await deliveryRows(business.id);
      // No HTTP answer: refused (or, for a socket the old server had open, reset).
      return rows.reduce((n, d) => n + d.attempts, 0) > attemptsBefore && rows.some((d) => d.status === 'pending' && /ECONNREFUSED|ECONNRESET|socket hang up/.test(d.last_error ?? ''));
    }, 60_000);
    const done = await stack.runResult(run);
    expect(done.status).toBe('completed');

    await receiver.open();
    const expected = await completedEventIds(run.id);
    expect(expected).toHaveLength(12);
    await pollUntil(async () => {
      const rows = await deliveryRows(business.id);
      return rows.length === 13 && rows.every((d) => d.status === 'delivered');
    }, 60_000);

    // Each was verified by the receiver (Webhook.verify with the business's secret); none failed to.
    expect(receiver.rejected).toEqual([]);
    const arrived = new Set(receiver.accepted.map((w) => w.id));
    for (const id of expected) expect(arrived.has(id)).toBe(true);
    const completed = receiver.accepted.filter((w) => w.body.type === 'call.completed');
    expect(new Set(completed.map((w) => (w.body.data.lead as { phone: string }).phone))).toEqual(new Set(phones));
    for (const w of completed) {
      expect(w.body.data).toMatchObject({ runId: run.id, outcome: 'completed', attempt: 1, answeredBy: null, lead: { name: expect.stringMatching(/^Lead \d+$/), variables: null } });
      expect(typeof w.body.data.durationSeconds).toBe('number');
      expect(typeof w.body.data.callId).toBe('string');
      expect(w.id).toMatch(/^evt_\d+$/);
    }
    expect(receiver.accepted.filter((w) => w.body.type === 'run.completed').map((w) => w.body.data)).toContainEqual(
      expect.objectContaining({ runId: run.id, status: 'completed', previous: 'running', jobs: expect.objectContaining({ completed: 12, queued: 0, total: 12 }), outcomes: expect.objectContaining({ completed: 12, 'no-answer': 0 }), attempts: 12 }),
    );

    // The list shows it: all delivered, and the attempts the 500s and the outage took.
    const list = await stack.api<{ data: { eventId: string; status: string; attempts: number; lastStatusCode: number | null; lastError: string | null }[] }>(
      'GET',
      `/v1/businesses/${business.id}/webhook-deliveries?limit=200`,
    );
    expect(list.body.data).toHaveLength(13);
    expect(list.body.data.every((d) => d.status === 'delivered' && d.lastStatusCode === 204 && d.lastError === null)).toBe(true);
    const retried = list.body.data.filter((d) => d.attempts > 1);
    expect(retried.length).toBeGreaterThan(0);
    expect(list.body.data.reduce((n, d) => n + d.attempts - 1, 0)).toBeGreaterThanOrEqual(2);
    // Two worker starts and a killed worker's heartbeat timeout: slow on a loaded machine.
  }, 240_000);

  test('a receiver down for a whole run does not slow dialing: every lead is dialed and the run completes while nothing is delivered', async () => {
    const business = await stack.createBusiness();
    const receiver = await receiverFor(business.id);
    await receiver.close();
    const phones = leadPhones(20, '+1415596');
    const run = await stack.createRun(business.id, phones);
    const done = await stack.runResult(run);
    expect(done.status).toBe('completed');
    expect(done.jobs).toMatchObject({ completed: 20 });
    expect(stack.carrier.calls({ from: business.callerId }).map((c) => c.to).sort()).toEqual([...phones].sort());
    const atEnd = await deliveryRows(business.id);
    expect(atEnd.filter((d) => d.status === 'delivered')).toEqual([]);
    // The dispatcher was trying all along: attempts were made, and refused, before the run ended.
    expect(atEnd.some((d) => d.attempts > 0)).toBe(true);
    await pollUntil(async () => {
      const rows = await deliveryRows(business.id);
      return rows.filter((d) => d.type === 'call.completed').length === 20 && rows.every((d) => d.last_error !== null);
    });
    const rows = await deliveryRows(business.id);
    expect(rows.every((d) => d.status === 'pending' && d.last_status_code === null && /ECONNREFUSED/.test(d.last_error ?? ''))).toBe(true);
    expect(receiver.accepted).toEqual([]);
  });
});
