import { pendingRunsOlderThan } from '../../db/queries/runs';
import type { DomainDeps } from '../deps';
import { startRunWorkflow } from './start-workflow';

const BATCH = 100;

/**
 * Starts the workflow of every run committed but never started (the API died or Temporal was
 * unreachable between the commit and the start). Safe to run anywhere, any number of times: a
 * run's workflow ID can only ever be started once.
 */
export async function startStalledRuns(
  deps: Pick<DomainDeps, 'database' | 'temporal' | 'config' | 'logger'>,
  opts: { olderThanSeconds?: number; businessId?: string } = {},
): Promise<{ started: number; alreadyStarted: number; failed: number }> {
  const runs = await pendingRunsOlderThan(deps.database.pool, opts.olderThanSeconds ?? deps.config.stalledRunAfterSeconds, {
    ...(opts.businessId ? { businessId: opts.businessId } : {}),
    limit: BATCH,
  });
  const total = { started: 0, alreadyStarted: 0, failed: 0 };
  for (const run of runs) {
    const start = await startRunWorkflow(deps, { id: run.id, businessId: run.business_id, workflowId: run.workflow_id });
    if (start.started) {
      total.started += 1;
      deps.logger.info({ runId: run.id }, 'stalled run started');
    } else if (start.alreadyStarted) total.alreadyStarted += 1;
    else {
      total.failed += 1;
      deps.logger.warn({ runId: run.id, err: start.error }, 'stalled run could not be started yet');
    }
  }
  return total;
}
