import type { Executor } from './executor';

/** Queries of the `api_keys` table. */

export interface ApiKeyRow {
  id: string;
  business_id: string;
  name: string | null;
  prefix: string;
  secret_hash: string;
  created_at: Date;
  last_used_at: Date | null;
  revoked_at: Date | null;
}

export async function insertApiKey(db: Executor, key: { businessId: string; name: string | null; prefix: string; secretHash: string }): Promise<ApiKeyRow> {
  const r = await db.query<ApiKeyRow>('INSERT INTO api_keys (business_id, name, prefix, secret_hash) VALUES ($1, $2, $3, $4) RETURNING *', [
    key.businessId,
    key.name,
    key.prefix,
    key.secretHash,
  ]);
  return r.rows[0]!;
}

/** A key that is not revoked, by its public prefix. */
export async function findLiveApiKey(db: Executor, prefix: string): Promise<ApiKeyRow | null> {
  return (await db.query<ApiKeyRow>('SELECT * FROM api_keys WHERE prefix = $1 AND revoked_at IS NULL', [prefix])).rows[0] ?? null;
}

/** Records use at most once a minute per key, so authentication does not write on every request. */
export async function touchApiKey(db: Executor, id: string): Promise<void> {
  await db.query("UPDATE api_keys SET last_used_at = now() WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')", [id]);
}

export async function listApiKeys(db: Executor, businessId: string): Promise<ApiKeyRow[]> {
  return (await db.query<ApiKeyRow>('SELECT * FROM api_keys WHERE business_id = $1 ORDER BY created_at, id', [businessId])).rows;
}

/** Revokes a key of the business; revoking it again changes nothing. Null if the business has no such key. */
export async function revokeApiKey(db: Executor, businessId: string, id: string): Promise<ApiKeyRow | null> {
  const r = await db.query<ApiKeyRow>(
    'UPDATE api_keys SET revoked_at = COALESCE(revoked_at, now()) WHERE id = $1 AND business_id = $2 RETURNING *',
    [id, businessId],
  );
  return r.rows[0] ?? null;
}
