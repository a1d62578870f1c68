import { findBusiness } from '../../db/queries/businesses';
import { jobTalliesOf, noTallies } from '../../db/queries/jobs';
import type { TimeKey } from '../../db/queries/keyset';
import { listRunRows } from '../../db/queries/runs';
import type { RunStatus } from '../../db/statuses';
import type { DomainDeps } from '../deps';
import { pageRows, timeKeyOf, type Page } from '../pagination';
import { jobCounts, type RunView } from './run-view';

/** A run in a list: where it stands, without the business's live slots or its settings (GET /v1/runs/:id has those). */
export type RunSummary = Pick<
  RunView,
  'id' | 'businessId' | 'status' | 'lastError' | 'jobs' | 'attempts' | 'outcomes' | 'startAt' | 'stopAt' | 'createdAt' | 'startedAt' | 'finishedAt'
>;

/** A business's runs, newest first, a page at a time; null when the business does not exist. */
export async function listRuns(
  deps: Pick<DomainDeps, 'database'>,
  businessId: string,
  page: { statuses: readonly RunStatus[] | null; before: TimeKey | null; limit: number },
): Promise<Page<RunSummary> | null> {
  const db = deps.database.pool;
  if (!(await findBusiness(db, businessId))) return null;
  const { rows, nextCursor } = pageRows(await listRunRows(db, businessId, { ...page, limit: page.limit + 1 }), page.limit, timeKeyOf);
  const tallies = await jobTalliesOf(db, rows.map((r) => r.id));
  const data = rows.map((run): RunSummary => ({
    id: run.id,
    businessId: run.business_id,
    status: run.status,
    lastError: run.last_error,
    ...jobCounts(tallies.get(run.id) ?? noTallies()),
    startAt: run.start_at?.toISOString() ?? null,
    stopAt: run.stop_at?.toISOString() ?? null,
    createdAt: run.created_at.toISOString(),
    startedAt: run.started_at?.toISOString() ?? null,
    finishedAt: run.finished_at?.toISOString() ?? null,
  }));
  return { data, nextCursor };
}
