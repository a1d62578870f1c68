import { findBusiness } from '../../db/queries/businesses';
import { listCallRows, type CallFilter } from '../../db/queries/calls';
import type { TimeKey } from '../../db/queries/keyset';
import type { DomainDeps } from '../deps';
import { pageRows, timeKeyOf, type Page } from '../pagination';
import { callView, type CallView } from './call-view';

/** A business's calls (direct and its runs'), newest first, a page at a time; null when the business does not exist. */
export async function listCalls(
  deps: Pick<DomainDeps, 'database'>,
  businessId: string,
  page: CallFilter & { before: TimeKey | null; limit: number },
): Promise<Page<CallView> | null> {
  const db = deps.database.pool;
  if (!(await findBusiness(db, businessId))) return null;
  const { rows, nextCursor } = pageRows(await listCallRows(db, businessId, { ...page, limit: page.limit + 1 }), page.limit, timeKeyOf);
  return { data: rows.map(callView), nextCursor };
}
