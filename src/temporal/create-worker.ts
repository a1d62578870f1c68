import { Worker, type NativeConnection, type WorkerOptions } from '@temporalio/worker';
import { createActivities, type ActivityDeps } from '../activities';

export interface CreateWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  deps: ActivityDeps;
  /** The workflows' bundle (src/temporal/workflow-bundle.ts; tests bundle once per process). */
  workflowBundle: NonNullable<WorkerOptions['workflowBundle']>;
  identity?: string;
}

/** A BulkCallRun worker: the workflows plus activities wired to the given database and carrier. */
export function createOutdialWorker(opts: CreateWorkerOptions): Promise<Worker> {
  return Worker.create({
    connection: opts.connection,
    namespace: opts.namespace,
    taskQueue: opts.taskQueue,
    workflowBundle: opts.workflowBundle,
    activities: createActivities(opts.deps),
    ...(opts.identity ? { identity: opts.identity } : {}),
    // Let in-flight dials record their outcome on shutdown instead of being cut off mid-request.
    shutdownGraceTime: '20 seconds',
    // A run's next workflow task goes to the worker that has it cached; if that worker was killed,
    // the task moves to any worker after this (the SDK's default, 10 s, held a run up that long).
    stickyQueueScheduleToStartTimeout: '3 seconds',
  });
}
