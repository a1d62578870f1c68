import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import { BULK_CALL_RUN_WORKFLOW, type BulkCallRunInput } from '../../workflows/messages';
import type { DomainDeps } from '../deps';

export type WorkflowStart = { started: true } | { started: false; alreadyStarted: true } | { started: false; alreadyStarted: false; error: string };

/**
 * Starts a committed run's workflow. A run's workflow ID is used once, ever (REJECT_DUPLICATE): a
 * second start, from a retry or the sweep, is harmless and says so.
 */
export async function startRunWorkflow(
  deps: Pick<DomainDeps, 'temporal' | 'config'>,
  run: { id: string; businessId: string; workflowId: string },
): Promise<WorkflowStart> {
  const input: BulkCallRunInput = {
    runId: run.id,
    businessId: run.businessId,
    wakeFallbackSeconds: deps.config.runWakeFallbackSeconds,
    keptOpenWaitSeconds: deps.config.runKeptOpenWaitSeconds,
    dialPass: { timeoutSeconds: deps.config.dialPass.timeoutSeconds, heartbeatSeconds: deps.config.dialPass.heartbeatSeconds, local: deps.config.dialPass.local },
    ...(deps.config.runContinueAsNew ? { limits: deps.config.runContinueAsNew } : {}),
  };
  try {
    await deps.temporal.workflow.start(BULK_CALL_RUN_WORKFLOW, {
      taskQueue: deps.config.temporal.taskQueue,
      workflowId: run.workflowId,
      args: [input],
      workflowIdConflictPolicy: 'FAIL',
      workflowIdReusePolicy: 'REJECT_DUPLICATE',
      // The Web UI shows it on the run's page (User Metadata).
      staticSummary: `bulk call run ${run.id} of business ${run.businessId}`,
      // A local dial pass runs inside a workflow task: a worker that dies mid-pass holds the run up
      // for this timeout (the SDK extends the task while a long pass runs), as long as a heartbeat would.
      ...(deps.config.dialPass.local ? { workflowTaskTimeout: deps.config.dialPass.heartbeatSeconds * 1000 } : {}),
    });
    return { started: true };
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) return { started: false, alreadyStarted: true };
    // An answer lost in transit does not mean the start failed: believe the server, not the error.
    const exists = await deps.temporal.workflow
      .getHandle(run.workflowId)
      .describe()
      .then(() => true, () => false);
    if (exists) return { started: false, alreadyStarted: true };
    return { started: false, alreadyStarted: false, error: (err as Error).message };
  }
}
