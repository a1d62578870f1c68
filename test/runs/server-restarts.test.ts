import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createDatabase, migrateDatabase } from '../../src/db/client';
import { startEmbeddedPostgres, type EmbeddedPostgresServer } from '../../src/dev/postgres';
import { freePort } from '../../src/dev/processes';
import { startTemporalDevServer, type TemporalDevServer } from '../../src/dev/temporal-server';
import { FAST_RECOVERY, leadPhones, OutdialTestStack } from '../helpers/outdial';

/**
 * Postgres or Temporal goes away mid-run and comes back. Each test restarts a server of its own,
 * so the restart touches no other test. What is lost meanwhile (status callbacks answered 503,
 * wake-up signals that cannot be sent) is covered by the API's replay of those callbacks, retries,
 * the run's durable fallback timer and reconciliation with the carrier.
 */

/** Runs 20 leads through an outage that starts once 6 calls were placed; asserts what the carrier saw. */
async function runThroughOutage(stack: OutdialTestStack, prefix: string, outage: (callerId: string) => Promise<void>) {
  const business = await stack.createBusiness();
  const phones = leadPhones(20, prefix);
  const run = await stack.createRun(business.id, phones);
  await stack.carrier.waitForCalls(6, { from: business.callerId });
  await outage(business.callerId);
  const done = await stack.runResult(run);
  expect(done.status).toBe('completed');
  expect(done.jobs).toMatchObject({ completed: 20, queued: 0, dialing: 0 });
  expect(stack.carrier.calls({ from: business.callerId }).map((c) => c.to).sort()).toEqual([...phones].sort());
  expect(stack.carrier.stats().perFrom[business.callerId]?.peak).toBeLessThanOrEqual(3);
}

function scratchDir(name: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), `outdial-${name}-`));
  chmodSync(dir, 0o755); // Postgres runs as the postgres user when the tests run as root
  return dir;
}

describe('Postgres restarted mid-run', () => {
  const dir = scratchDir('pg-restart');
  let port: number;
  let postgres: EmbeddedPostgresServer;
  let stack: OutdialTestStack;
  const start = () => startEmbeddedPostgres({ dataDir: path.join(dir, 'pg'), port });

  beforeAll(async () => {
    port = await freePort();
    postgres = await start();
    const database = createDatabase(postgres.databaseUrl, { max: 1 });
    await migrateDatabase(database);
    await database.close();
    // No check with the carrier of a quiet call within the test (a dial with an unknown outcome is
    // still checked within seconds): only the API's own replay can settle a refused final callback.
    stack = await OutdialTestStack.start({ ...FAST_RECOVERY, reconcileAfterSeconds: 600, reconcileQuietCallSeconds: 600, reconcileFirstCheckSeconds: 1, databaseUrl: postgres.databaseUrl });
    await stack.startWorker();
  });
  afterAll(async () => {
    await stack.stop();
    await postgres.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('the run completes once Postgres is back: each lead called once, the limit held, and the callbacks answered 503 meanwhile handled by the API', async () => {
    const since = Date.now();
    await runThroughOutage(stack, '+1415581', async () => {
      await postgres.stop();
      // A call ends while Postgres is down: its final callback cannot be recorded (503); the API keeps it.
      await stack.carrier.waitFor(() => stack.carrier.callbacks().some((c) => c.event === 'completed' && c.responseStatus === 503 && c.firedAt >= since));
      postgres = await start();
    });
    // Each such call holds what only that callback brought (its SequenceNumber): the API handled
    // the callback itself once Postgres answered, where a check with the carrier carries none.
    const refused = stack.carrier.callbacks().filter((c) => c.event === 'completed' && c.responseStatus === 503 && c.firedAt >= since);
    expect(refused.length).toBeGreaterThan(0);
    for (const callback of refused) {
      const row = await stack.database.pool.query<{ status: string; last_sequence_number: number | null }>(
        'SELECT status, last_sequence_number FROM calls WHERE twilio_call_sid = $1',
        [callback.callSid],
      );
      expect(row.rows[0]).toEqual({ status: callback.callStatus, last_sequence_number: callback.sequenceNumber });
    }
  });
});

describe('Temporal restarted mid-run', () => {
  const dir = scratchDir('temporal-restart');
  let port: number;
  let temporal: TemporalDevServer;
  let stack: OutdialTestStack;
  // Persisted to SQLite, so the run's workflow survives the restart.
  const start = () => startTemporalDevServer({ cliPath: process.env.OUTDIAL_TEST_TEMPORAL_CLI!, port, dbFilename: path.join(dir, 'temporal.sqlite') });

  beforeAll(async () => {
    port = await freePort();
    temporal = await start();
    stack = await OutdialTestStack.start({ ...FAST_RECOVERY, temporalAddress: temporal.address });
    await stack.startWorker();
  });
  afterAll(async () => {
    await stack.stop();
    await temporal.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('the run completes once Temporal is back: each lead called once, the limit held', async () => {
    await runThroughOutage(stack, '+1415582', async (callerId) => {
      await temporal.stop();
      // Every live call ends while Temporal is down: their wake-up signals cannot be delivered.
      await stack.carrier.waitFor(() => stack.carrier.calls({ from: callerId, live: true }).length === 0);
      temporal = await start();
    });
  });
});
