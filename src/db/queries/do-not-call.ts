import type { Executor } from './executor';

/**
 * Queries of `do_not_call_numbers`. `scope` is a business ID, or null for the operator-wide list.
 * The claim reads the lists itself (src/db/queries/jobs.ts, calls.ts `beginDials`).
 */

export interface DoNotCallRow {
  business_id: string | null;
  phone: string;
  reason: string | null;
  created_at: Date;
}

/** Adds numbers to one list; a number already there keeps its first entry. Returns how many were new. */
export async function addDoNotCall(db: Executor, scope: string | null, phones: string[], reason: string | null): Promise<number> {
  const r = await db.query(
    `INSERT INTO do_not_call_numbers (business_id, phone, reason)
     SELECT $1, phone, $3 FROM unnest($2::text[]) AS t(phone)
     ON CONFLICT ON CONSTRAINT do_not_call_numbers_scope_phone_unique DO NOTHING`,
    [scope, phones, reason],
  );
  return r.rowCount ?? 0;
}

export async function removeDoNotCall(db: Executor, scope: string | null, phone: string): Promise<boolean> {
  const r = await db.query('DELETE FROM do_not_call_numbers WHERE business_id IS NOT DISTINCT FROM $1 AND phone = $2', [scope, phone]);
  return (r.rowCount ?? 0) > 0;
}

/** One page of a list in number order, after `after` (keyset pagination: stable while the list changes). */
export async function listDoNotCall(db: Executor, scope: string | null, page: { after: string | null; limit: number }): Promise<DoNotCallRow[]> {
  const r = await db.query<DoNotCallRow>(
    `SELECT business_id, phone, reason, created_at FROM do_not_call_numbers
      WHERE business_id IS NOT DISTINCT FROM $1 AND ($2::text IS NULL OR phone > $2)
      ORDER BY phone LIMIT $3`,
    [scope, page.after, page.limit],
  );
  return r.rows;
}

/** The entries that block this number for a business: its own list's and the global one's. */
export async function doNotCallEntries(db: Executor, businessId: string | null, phone: string): Promise<DoNotCallRow[]> {
  const r = await db.query<DoNotCallRow>(
    `SELECT business_id, phone, reason, created_at FROM do_not_call_numbers
      WHERE phone = $2 AND (business_id = $1 OR business_id IS NULL) ORDER BY business_id NULLS LAST`,
    [businessId, phone],
  );
  return r.rows;
}
