import type { Executor } from './executor';

/** Queries of the `idempotency_keys` table (see src/domain/idempotency.ts). */

export interface SealedResult {
  iv: string;
  tag: string;
  data: string;
}

export interface IdempotencyRow {
  request_hash: string;
  result: SealedResult | null;
}

/**
 * Claims (principal, key) for this request. An identical request in flight elsewhere holds the row
 * uncommitted, so this waits on the primary key until that transaction ends: then either the claim
 * is ours (it rolled back) or its row is there to replay. Rows older than `ttlSeconds` are dropped first.
 */
export async function claimIdempotencyKey(db: Executor, principal: string, key: string, requestHash: string, ttlSeconds: number): Promise<{ claimed: true } | { claimed: false; row: IdempotencyRow | null }> {
  await db.query('DELETE FROM idempotency_keys WHERE principal = $1 AND key = $2 AND created_at < now() - make_interval(secs => $3)', [
    principal,
    key,
    ttlSeconds,
  ]);
  const inserted = await db.query(
    'INSERT INTO idempotency_keys (principal, key, request_hash) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING principal',
    [principal, key, requestHash],
  );
  if ((inserted.rowCount ?? 0) > 0) return { claimed: true };
  const existing = await db.query<IdempotencyRow>('SELECT request_hash, result FROM idempotency_keys WHERE principal = $1 AND key = $2', [principal, key]);
  return { claimed: false, row: existing.rows[0] ?? null };
}

export async function storeIdempotentResult(db: Executor, principal: string, key: string, result: SealedResult): Promise<void> {
  await db.query('UPDATE idempotency_keys SET result = $3 WHERE principal = $1 AND key = $2', [principal, key, JSON.stringify(result)]);
}

export async function deleteIdempotencyKey(db: Executor, principal: string, key: string): Promise<void> {
  await db.query('DELETE FROM idempotency_keys WHERE principal = $1 AND key = $2', [principal, key]);
}

/** Drops expired rows, a bounded batch at a time. */
export async function expireIdempotencyKeys(db: Executor, ttlSeconds: number, limit: number): Promise<number> {
  const r = await db.query(
    `DELETE FROM idempotency_keys WHERE ctid IN (
       SELECT ctid FROM idempotency_keys WHERE created_at < now() - make_interval(secs => $1) LIMIT $2)`,
    [ttlSeconds, limit],
  );
  return r.rowCount ?? 0;
}
