import { inTransaction } from '../db/client';
import { findBusiness, insertBusiness, updateBusiness, type BusinessFields, type BusinessRow } from '../db/queries/businesses';
import { countActiveCalls } from '../db/queries/calls';
import type { DomainDeps } from './deps';
import { claimOrReplay, recordResult, type IdempotencyKey } from './idempotency';

/** Businesses: the tenant, its caller ID and its concurrency limit. */

export interface BusinessView {
  id: string;
  name: string;
  callerId: string;
  maxConcurrentCalls: number;
  activeCalls: number;
  createdAt: string;
}

function view(row: BusinessRow, activeCalls: number): BusinessView {
  return {
    id: row.id,
    name: row.name,
    callerId: row.caller_id,
    maxConcurrentCalls: row.max_concurrent_calls,
    activeCalls,
    createdAt: row.created_at.toISOString(),
  };
}

export function createBusiness(deps: Pick<DomainDeps, 'database'>, fields: BusinessFields, idem?: IdempotencyKey): Promise<BusinessView> {
  return inTransaction(deps.database, async (client) => {
    const replayed = await claimOrReplay<BusinessView>(client, idem);
    if (replayed) return replayed.replay;
    const created = view(await insertBusiness(client, fields), 0);
    await recordResult(client, idem, created);
    return created;
  });
}

export async function getBusiness(deps: Pick<DomainDeps, 'database'>, id: string): Promise<BusinessView | null> {
  const row = await findBusiness(deps.database.pool, id);
  return row ? view(row, await countActiveCalls(deps.database.pool, id)) : null;
}

/** Changes name, caller ID or limit. A higher limit frees slots at once, so the business's runs are woken. */
export async function changeBusiness(deps: Pick<DomainDeps, 'database' | 'wakeRuns'>, id: string, fields: Partial<BusinessFields>): Promise<BusinessView | null> {
  const before = await findBusiness(deps.database.pool, id);
  if (!before) return null;
  const row = await updateBusiness(deps.database.pool, id, fields);
  if (!row) return null;
  if (row.max_concurrent_calls > before.max_concurrent_calls) await deps.wakeRuns(id);
  return view(row, await countActiveCalls(deps.database.pool, id));
}
