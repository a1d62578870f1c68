import type { PoolClient } from 'pg';
import type { Executor } from './executor';

/** Queries of the `businesses` table. */

export interface BusinessRow {
  id: string;
  name: string;
  caller_id: string;
  max_concurrent_calls: number;
  created_at: Date;
}

export interface BusinessFields {
  name: string;
  callerId: string;
  maxConcurrentCalls: number;
}

export async function insertBusiness(db: Executor, fields: BusinessFields): Promise<BusinessRow> {
  const r = await db.query<BusinessRow>(
    'INSERT INTO businesses (name, caller_id, max_concurrent_calls) VALUES ($1, $2, $3) RETURNING *',
    [fields.name, fields.callerId, fields.maxConcurrentCalls],
  );
  return r.rows[0]!;
}

export async function findBusiness(db: Executor, id: string): Promise<BusinessRow | null> {
  return (await db.query<BusinessRow>('SELECT * FROM businesses WHERE id = $1', [id])).rows[0] ?? null;
}

/** Changes the given fields; absent ones keep their value. */
export async function updateBusiness(db: Executor, id: string, fields: Partial<BusinessFields>): Promise<BusinessRow | null> {
  const r = await db.query<BusinessRow>(
    `UPDATE businesses SET name = COALESCE($2, name), caller_id = COALESCE($3, caller_id),
            max_concurrent_calls = COALESCE($4, max_concurrent_calls)
      WHERE id = $1 RETURNING *`,
    [id, fields.name ?? null, fields.callerId ?? null, fields.maxConcurrentCalls ?? null],
  );
  return r.rows[0] ?? null;
}

/**
 * Takes the business's slot lock for the rest of the transaction (`FOR NO KEY UPDATE`: it does not
 * conflict with the `FOR KEY SHARE` locks foreign-key checks take) and reads its limit and caller ID.
 */
export async function lockBusiness(client: PoolClient, id: string): Promise<{ maxConcurrentCalls: number; callerId: string } | null> {
  const r = await client.query<{ max_concurrent_calls: number; caller_id: string }>(
    'SELECT max_concurrent_calls, caller_id FROM businesses WHERE id = $1 FOR NO KEY UPDATE',
    [id],
  );
  const row = r.rows[0];
  return row ? { maxConcurrentCalls: row.max_concurrent_calls, callerId: row.caller_id } : null;
}
