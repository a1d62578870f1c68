import { inTransaction } from '../db/client';
import { insertApiKey, listApiKeys, revokeApiKey, type ApiKeyRow } from '../db/queries/api-keys';
import { findBusiness } from '../db/queries/businesses';
import type { DomainDeps } from './deps';
import { claimOrReplay, recordResult, type IdempotencyKey } from './idempotency';
import { newBusinessKey } from './principal';

/** A business's API keys: minted by an admin, the secret shown once, listed and revoked. */

export interface ApiKeyView {
  id: string;
  businessId: string;
  name: string | null;
  /** The key's public head: enough to tell keys apart, never enough to use one. */
  prefix: string;
  createdAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

function view(row: ApiKeyRow): ApiKeyView {
  return {
    id: row.id,
    businessId: row.business_id,
    name: row.name,
    prefix: row.prefix,
    createdAt: row.created_at.toISOString(),
    lastUsedAt: row.last_used_at?.toISOString() ?? null,
    revokedAt: row.revoked_at?.toISOString() ?? null,
  };
}

export type MintedKey = { apiKey: ApiKeyView & { secret: string } } | { notFound: 'business' };

export function mintApiKey(deps: Pick<DomainDeps, 'database'>, businessId: string, name: string | null, idem?: IdempotencyKey): Promise<MintedKey> {
  return inTransaction(deps.database, async (client) => {
    // Before the claim: a claim is only ever committed together with its result.
    if (!(await findBusiness(client, businessId))) return { notFound: 'business' } as const;
    const replayed = await claimOrReplay<MintedKey>(client, idem);
    if (replayed) return replayed.replay;
    const { key, prefix, secretHash } = newBusinessKey();
    const minted = { apiKey: { ...view(await insertApiKey(client, { businessId, name, prefix, secretHash })), secret: key } };
    await recordResult(client, idem, minted);
    return minted;
  });
}

export async function listKeys(deps: Pick<DomainDeps, 'database'>, businessId: string): Promise<ApiKeyView[]> {
  return (await listApiKeys(deps.database.pool, businessId)).map(view);
}

export async function revokeKey(deps: Pick<DomainDeps, 'database'>, businessId: string, keyId: string): Promise<ApiKeyView | null> {
  const row = await revokeApiKey(deps.database.pool, businessId, keyId);
  return row ? view(row) : null;
}
