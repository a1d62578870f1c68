import { findBusiness } from '../db/queries/businesses';
import { addDoNotCall, doNotCallEntries, listDoNotCall, removeDoNotCall, type DoNotCallRow } from '../db/queries/do-not-call';
import type { DomainDeps } from './deps';

/**
 * Do-not-call lists: each business's own, and the operator-wide one (`scope: null`, admin only).
 * Both are checked inside the claim and again just before each dial (src/claim/, calls.beginDials).
 */

export type ListScope = { businessId: string } | { global: true };

const scopeId = (scope: ListScope) => ('businessId' in scope ? scope.businessId : null);

export interface DoNotCallEntry {
  phone: string;
  list: 'business' | 'global';
  reason: string | null;
  createdAt: string;
}

function entry(row: DoNotCallRow): DoNotCallEntry {
  return { phone: row.phone, list: row.business_id ? 'business' : 'global', reason: row.reason, createdAt: row.created_at.toISOString() };
}

export const MAX_NUMBERS_PER_REQUEST = 10_000;

type Deps = Pick<DomainDeps, 'database'>;

async function scopeExists(deps: Deps, scope: ListScope): Promise<boolean> {
  return 'global' in scope || (await findBusiness(deps.database.pool, scope.businessId)) !== null;
}

export async function addNumbers(deps: Deps, scope: ListScope, phones: string[], reason: string | null): Promise<{ added: number; alreadyListed: number } | null> {
  if (!(await scopeExists(deps, scope))) return null;
  const unique = [...new Set(phones)];
  const added = await addDoNotCall(deps.database.pool, scopeId(scope), unique, reason);
  return { added, alreadyListed: unique.length - added };
}

export async function removeNumber(deps: Deps, scope: ListScope, phone: string): Promise<boolean> {
  return removeDoNotCall(deps.database.pool, scopeId(scope), phone);
}

/** A page of one list in number order; `next` is the cursor for the following page (null at the end). */
export async function listNumbers(deps: Deps, scope: ListScope, page: { after: string | null; limit: number }): Promise<{ numbers: DoNotCallEntry[]; next: string | null } | null> {
  if (!(await scopeExists(deps, scope))) return null;
  const rows = await listDoNotCall(deps.database.pool, scopeId(scope), { after: page.after, limit: page.limit + 1 });
  const numbers = rows.slice(0, page.limit).map(entry);
  return { numbers, next: rows.length > page.limit ? (numbers.at(-1)?.phone ?? null) : null };
}

/** Whether a business may call this number: the entries of its own list and the global one that block it. */
export async function checkNumber(deps: Deps, scope: ListScope, phone: string): Promise<{ phone: string; listed: boolean; entries: DoNotCallEntry[] } | null> {
  if (!(await scopeExists(deps, scope))) return null;
  const entries = (await doNotCallEntries(deps.database.pool, scopeId(scope), phone)).map(entry);
  return { phone, listed: entries.length > 0, entries };
}
