import { WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import { findRun } from '../../db/queries/runs';
import { cancelRunUpdate, pauseRunUpdate, resumeRunUpdate, type RunTransition } from '../../workflows/messages';
import type { DomainDeps } from '../deps';
import { getRun, type RunView } from './run-view';

const UPDATES = { pause: pauseRunUpdate, resume: resumeRunUpdate, cancel: cancelRunUpdate } as const;

export type ChangeRunResult = { ok: true; run: RunView } | { ok: false; reason: 'not-found' } | { ok: false; reason: 'invalid-transition'; message: string };

/**
 * Pause, resume or cancel, as a Temporal update: the run's workflow validates the change against the
 * state machine and applies it in Postgres before answering, so the caller learns whether it took.
 */
export async function changeRunState(deps: Pick<DomainDeps, 'database' | 'temporal'>, runId: string, action: RunTransition): Promise<ChangeRunResult> {
  const run = await findRun(deps.database.pool, runId);
  if (!run) return { ok: false, reason: 'not-found' };
  try {
    await deps.temporal.workflow.getHandle(run.workflow_id).executeUpdate(UPDATES[action]);
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError) return { ok: false, reason: 'invalid-transition', message: err.cause?.message ?? err.message };
    if (err instanceof WorkflowNotFoundError) return { ok: false, reason: 'invalid-transition', message: `the run is ${run.status}` };
    throw err;
  }
  return { ok: true, run: (await getRun(deps.database, runId))! };
}
