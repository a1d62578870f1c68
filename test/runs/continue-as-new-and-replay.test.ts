import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { historyFromJSON, type History as WorkflowHistory } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import { leadPhones, OutdialTestStack } from '../helpers/outdial';
import { testTemporalAddress, workflowBundle } from '../helpers/temporal';

const FIXTURES = path.resolve(__dirname, '../fixtures/histories');

describe('BulkCallRun continue-as-new and replay', () => {
  let stack: OutdialTestStack;
  beforeAll(async () => {
    // Continue-as-new every 4 dial passes, so a 30-lead run takes several executions (one pass per
    // wake-up: a dial session would dial them all in one).
    stack = await OutdialTestStack.start({
      dialPass: { sessionSeconds: 0 },
      wakeFallbackSeconds: 3600,
      runContinueAsNew: { maxSignalsPerExecution: 2_000, maxIterationsPerExecution: 4 },
      carrier: { defaultScript: { dialMs: 2, ringMs: 5, talkMs: 30 } },
    });
    await stack.startWorker();
  });
  afterAll(async () => {
    await stack.stop();
  });

  let recorded: { workflowId: string; runId: string; history: WorkflowHistory }[] = [];

  test('a run that continues-as-new at least twice completes with every lead called once', async () => {
    const business = await stack.createBusiness();
    const phones = leadPhones(30, '+1415561');
    const run = await stack.createRun(business.id, phones);
    const done = await stack.runResult(run);
    expect(done.status).toBe('completed');
    expect(done.result.executions).toBeGreaterThanOrEqual(3);
    expect(done.result.dialed).toBe(30);
    const calls = stack.carrier.calls({ from: business.callerId });
    expect(calls).toHaveLength(30);
    expect(new Set(calls.map((c) => c.to))).toEqual(new Set(phones));
    expect(stack.carrier.stats().perFrom[business.callerId]?.peak).toBe(3);

    // Every execution of the chain, oldest first, for the replay test below.
    const executions: { runId: string; status: string }[] = [];
    for await (const e of stack.temporal.client.workflow.list({ query: `WorkflowId = '${run.workflowId}'` })) {
      executions.push({ runId: e.runId, status: e.status.name });
    }
    expect(executions.length).toBe(done.result.executions);
    expect(executions.filter((e) => e.status === 'CONTINUED_AS_NEW')).toHaveLength(done.result.executions - 1);
    recorded = await Promise.all(
      executions.map(async (e) => ({
        workflowId: run.workflowId,
        runId: e.runId,
        history: await stack.temporal.client.workflow.getHandle(run.workflowId, e.runId).fetchHistory(),
      })),
    );
    // As Temporal scheduled them: a failing dial pass is retried at least as often as a dead worker
    // is found out, so a run whose passes kept failing (an outage, a storm of kills) resumes within
    // seconds of its end, not a long backoff later.
    const seconds = (d: { seconds?: unknown; nanos?: number | null } | null | undefined) => Number(d?.seconds ?? 0) + (d?.nanos ?? 0) / 1e9;
    const passes = recorded
      .flatMap((r) => r.history.events ?? [])
      .map((e) => e.activityTaskScheduledEventAttributes)
      .filter((a) => a?.activityType?.name === 'dialAvailableSlots');
    expect(passes.length).toBeGreaterThan(0);
    for (const pass of passes) {
      expect(seconds(pass!.retryPolicy?.maximumInterval)).toBeGreaterThan(0);
      expect(seconds(pass!.retryPolicy?.maximumInterval)).toBeLessThanOrEqual(seconds(pass!.heartbeatTimeout));
    }
  });

  test('recorded histories replay without non-determinism (fresh ones and the committed fixtures)', async () => {
    expect(recorded.length).toBeGreaterThanOrEqual(3);
    if (process.env.RECORD_HISTORIES) {
      // Fixtures in the format every Temporal tool reads: the CLI's `workflow show -o json`.
      recorded.forEach((r, i) => {
        const json = execFileSync(
          process.env.OUTDIAL_TEST_TEMPORAL_CLI!,
          ['workflow', 'show', '--address', testTemporalAddress(), '-w', r.workflowId, '-r', r.runId, '-o', 'json'],
          { encoding: 'utf8' },
        );
        writeFileSync(path.join(FIXTURES, `bulk-call-run-${i}.json`), json);
      });
    }
    const fixtures = readdirSync(FIXTURES)
      .filter((f) => f.endsWith('.json'))
      .map((f) => ({ workflowId: `fixture-${f}`, history: historyFromJSON(JSON.parse(readFileSync(path.join(FIXTURES, f), 'utf8'))) }));
    expect(fixtures.length).toBeGreaterThan(0);
    const results = [];
    for await (const r of Worker.runReplayHistories({ workflowBundle: await workflowBundle() }, [...recorded.map(({ workflowId, history }) => ({ workflowId, history })), ...fixtures])) {
      results.push({ workflowId: r.workflowId, error: r.error ? String(r.error) : undefined });
    }
    expect(results).toHaveLength(recorded.length + fixtures.length);
    expect(results.filter((r) => r.error)).toEqual([]);
  });
});
