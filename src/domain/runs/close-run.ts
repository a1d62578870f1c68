import { closeKeptOpenRun } from '../../db/queries/runs';
import type { DomainDeps } from '../deps';
import { getRun, type RunView } from './run-view';

export type CloseRunResult = { ok: true; run: RunView } | { ok: false; reason: 'not-found' };

/**
 * Closes a run kept open: it completes once the leads it holds are done (leads may still be added
 * until then, as to any run). Idempotent: a run not kept open, or ended, is answered as it stands.
 * A closed run with nothing left is woken, so it completes now rather than at its fallback timer.
 */
export async function closeRun(deps: Pick<DomainDeps, 'database' | 'wakeRuns' | 'logger'>, runId: string): Promise<CloseRunResult> {
  const closed = await closeKeptOpenRun(deps.database.pool, runId);
  if (closed) {
    deps.logger.info({ runId }, 'run closed: it completes once its leads are done');
    await deps
      .wakeRuns(closed.business_id, { changedRun: runId })
      .catch((err: unknown) => deps.logger.warn({ runId, err: String(err) }, 'run closed but the wake-up failed; it completes at its fallback timer'));
  }
  const run = await getRun(deps.database, runId);
  return run ? { ok: true, run } : { ok: false, reason: 'not-found' };
}
