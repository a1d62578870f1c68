import { randomUUID } from 'node:crypto';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { Worker } from '@temporalio/worker';
import { bulkCallRun } from '../../src/workflows/bulk-call-run';
import { cancelRunUpdate, progressQuery, slotFreedSignal } from '../../src/workflows/messages';
import type { DialPassSummary } from '../../src/workflows/messages';
import { pollFor } from '../helpers/outdial';
import { connectTestTemporal, workflowBundle } from '../helpers/temporal';

/**
 * The run's workflow with stub activities on the real Temporal dev server: once it has begun to
 * finish (its last pass found nothing left), an operator's cancel is refused, so Postgres cannot be
 * left `canceling` by a cancel that lands while the run is being marked completed.
 */
describe('BulkCallRun finishing', () => {
  let temporal: Awaited<ReturnType<typeof connectTestTemporal>>;
  beforeAll(async () => {
    temporal = await connectTestTemporal();
  });
  afterAll(async () => {
    await temporal?.close();
  });

  /** A nothing-left pass of a run that dialed `dialedTotal`. */
  const emptyPassOf = (dialedTotal: number): DialPassSummary => ({ runStatus: 'running', dialed: 0, rejected: 0, notSent: 0, unknown: 0, queued: 0, dialing: 0, active: 0, limit: 3, dialedTotal });

  /** A worker of the real workflow on a task queue of its own, with these stub activities. */
  async function stubWorker(activities: Record<string, (...args: never[]) => Promise<unknown>>) {
    const taskQueue = `finishing-${randomUUID()}`;
    const worker = await Worker.create({
      connection: temporal.nativeConnection,
      taskQueue,
      workflowBundle: await workflowBundle(),
      activities: { startRun: async () => ({ publicBaseUrl: 'https://outdial.example.test' }), ...activities },
    });
    const start = (wakeFallbackSeconds: number) =>
      temporal.client.workflow.start(bulkCallRun, { taskQueue, workflowId: `finishing-${randomUUID()}`, args: [{ runId: randomUUID(), businessId: randomUUID(), wakeFallbackSeconds }] });
    return { worker, start };
  }

  test('a cancel sent while the run is being marked finished is refused, and the run completes', async () => {
    const taskQueue = `finishing-${randomUUID()}`;
    const transitions: string[] = [];
    let finishing!: () => void;
    const finishStarted = new Promise<void>((resolve) => (finishing = resolve));
    let releaseFinish!: () => void;
    const finishReleased = new Promise<void>((resolve) => (releaseFinish = resolve));
    const finished: string[] = [];
    const emptyPass: DialPassSummary = { runStatus: 'running', dialed: 0, rejected: 0, notSent: 0, unknown: 0, queued: 0, dialing: 0, active: 0, limit: 3, dialedTotal: 2 };
    const worker = await Worker.create({
      connection: temporal.nativeConnection,
      taskQueue,
      workflowBundle: await workflowBundle(),
      activities: {
        startRun: async () => ({ publicBaseUrl: 'https://outdial.example.test' }),
        dialAvailableSlots: async () => emptyPass,
        transitionRun: async ({ runId, action }: { runId: string; action: string }) => {
          transitions.push(action);
          return { runId, status: 'canceling' };
        },
        finishRun: async ({ status }: { status: string }) => {
          finishing();
          await finishReleased;
          finished.push(status);
        },
      },
    });
    await worker.runUntil(async () => {
      const handle = await temporal.client.workflow.start(bulkCallRun, {
        taskQueue,
        workflowId: `finishing-${randomUUID()}`,
        args: [{ runId: randomUUID(), businessId: randomUUID(), wakeFallbackSeconds: 60 }],
      });
      await finishStarted;
      const refused = await handle.executeUpdate(cancelRunUpdate).then(
        () => null,
        (err: unknown) => err,
      );
      releaseFinish();
      expect(refused).toBeInstanceOf(WorkflowUpdateFailedError);
      expect(String((refused as WorkflowUpdateFailedError).cause?.message)).toMatch(/finishing/);
      expect(await handle.result()).toMatchObject({ status: 'completed', dialed: 2 });
    });
    expect(transitions).toEqual([]);
    expect(finished).toEqual(['completed']);
  });

  test('a finish that finds leads added since the last pass dials on, and completes once they are done', async () => {
    const passes: DialPassSummary[] = [emptyPassOf(2), { ...emptyPassOf(3), dialed: 1 }];
    let pass = 0;
    const finishes: boolean[] = [];
    const { worker, start } = await stubWorker({
      dialAvailableSlots: async () => passes[Math.min(pass++, passes.length - 1)]!,
      // The first finish finds a lead added after the first pass; the second finds it done.
      finishRun: async () => {
        const finished = finishes.length > 0;
        finishes.push(finished);
        return { finished };
      },
    });
    const result = await worker.runUntil(async () => (await start(60)).result());
    expect(result).toMatchObject({ status: 'completed', dialed: 3 });
    expect(pass).toBe(2);
    expect(finishes).toEqual([false, true]);
  });

  test('a run kept open sleeps when nothing is left, and finishes on the pass after a wake-up finds it closed', async () => {
    let open = true;
    let passes = 0;
    const finished: string[] = [];
    const { worker, start } = await stubWorker({
      dialAvailableSlots: async () => {
        passes += 1;
        return { ...emptyPassOf(1), keptOpen: open };
      },
      finishRun: async ({ status }: { status: string }) => {
        finished.push(status);
        return { finished: true };
      },
    });
    await worker.runUntil(async () => {
      const handle = await start(3600);
      // The pass's result recorded, the run sleeps on its hour-long fallback timer instead of finishing.
      const progress = await pollFor(() => handle.query(progressQuery), (p) => p.passesThisExecution === 1);
      expect(progress).toMatchObject({ phase: 'running', lastPass: { keptOpen: true } });
      expect(finished).toEqual([]);
      open = false;
      await handle.signal(slotFreedSignal);
      expect(await handle.result()).toMatchObject({ status: 'completed', dialed: 1 });
    });
    expect(passes).toBe(2);
    expect(finished).toEqual(['completed']);
  });
});
