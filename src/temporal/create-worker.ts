import { Worker, type NativeConnection, type WorkerOptions } from '@temporalio/worker';
import { createActivities, type ActivityDeps } from '../activities';

export interface CreateWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  deps: ActivityDeps;
  /** A pre-built bundle (tests bundle once per process); otherwise the workflows are bundled now. */
  workflowBundle?: WorkerOptions['workflowBundle'];
  identity?: string;
}

export const WORKFLOWS_PATH = require.resolve('../workflows');

/** A BulkCallRun worker: the workflows plus activities wired to the given database and carrier. */
export function createOutdialWorker(opts: CreateWorkerOptions): Promise<Worker> {
  return Worker.create({
    connection: opts.connection,
    namespace: opts.namespace,
    taskQueue: opts.taskQueue,
    ...(opts.workflowBundle ? { workflowBundle: opts.workflowBundle } : { workflowsPath: WORKFLOWS_PATH }),
    activities: createActivities(opts.deps),
    ...(opts.identity ? { identity: opts.identity } : {}),
    // Let in-flight dials record their outcome on shutdown instead of being cut off mid-request.
    shutdownGraceTime: '20 seconds',
  });
}
