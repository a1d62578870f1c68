import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createDatabase, migrateDatabase } from '../../src/db/client';
import { startEmbeddedPostgres, type EmbeddedPostgresServer } from '../../src/dev/postgres';
import { freePort } from '../../src/dev/processes';
import { leadPhones, OutdialTestStack } from '../helpers/outdial';

/**
 * Postgres goes away mid-run and comes back. Activities fail and are retried by Temporal; status
 * callbacks that arrive meanwhile are answered 500 and lost (Twilio does not retry those), so the
 * calls they were about are settled by reconciliation. A Postgres of this file's own, so the
 * restart touches no other test.
 */
describe('Postgres restarted mid-run', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'outdial-pg-restart-'));
  chmodSync(dir, 0o755);
  let port: number;
  let postgres: EmbeddedPostgresServer;
  let stack: OutdialTestStack;

  beforeAll(async () => {
    port = await freePort();
    postgres = await startEmbeddedPostgres({ dataDir: path.join(dir, 'pg'), port });
    const database = createDatabase(postgres.databaseUrl, { max: 1 });
    await migrateDatabase(database);
    await database.close();
    stack = await OutdialTestStack.start({
      databaseUrl: postgres.databaseUrl,
      wakeFallbackSeconds: 2,
      reconcileAfterSeconds: 1,
      carrier: { defaultScript: { dialMs: 2, ringMs: 20, talkMs: 150 } },
    });
    await stack.startWorker();
  });
  afterAll(async () => {
    await stack.stop();
    await postgres.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('the run completes once Postgres is back: every lead called exactly once, the limit held', async () => {
    const business = await stack.createBusiness();
    const phones = leadPhones(20, '+1415581');
    const run = await stack.createRun(business.id, phones);
    await stack.carrier.waitForCalls(6, { from: business.callerId });
    await postgres.stop();
    // Calls end while Postgres is down: their callbacks cannot be recorded.
    await stack.carrier.waitFor(() => stack.carrier.callbacks().some((c) => c.event === 'completed' && c.responseStatus === 500));
    postgres = await startEmbeddedPostgres({ dataDir: path.join(dir, 'pg'), port });
    const done = await stack.runResult(run);
    expect(done.status).toBe('completed');
    expect(done.jobs).toMatchObject({ completed: 20, queued: 0, dialing: 0 });
    expect(stack.carrier.calls({ from: business.callerId }).map((c) => c.to).sort()).toEqual([...phones].sort());
    expect(stack.carrier.stats().perFrom[business.callerId]?.peak).toBeLessThanOrEqual(3);
    // The calls whose final callback was lost to the outage were settled from the carrier.
    expect(stack.logs.some((l) => l.msg === 'call reconciled with the carrier: completed')).toBe(true);
  });
});
