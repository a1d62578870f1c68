import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Database } from '../db/client';
import { findLiveApiKey, touchApiKey } from '../db/queries/api-keys';

/**
 * Who is asking. Admin keys come from configuration (several, so a key can be rotated with an
 * overlap); business keys are minted per business and stored as a hash. `credentialKey` is derived
 * from the secret the caller presented and is what idempotent results are sealed with; the secret
 * itself is not kept.
 */
export type Principal =
  | { kind: 'admin'; id: string; credentialKey: Buffer }
  | { kind: 'business'; id: string; businessId: string; credentialKey: Buffer };

/** `odk_` + 12 characters of lookup prefix + 32 of secret: 264 random bits, base64url. */
const KEY_PATTERN = /^odk_([A-Za-z0-9_-]{12})([A-Za-z0-9_-]{32})$/;

const LAST_USED_RESOLUTION_MS = 60_000;

export const sha256 = (value: string) => createHash('sha256').update(value).digest('hex');

const credentialKeyOf = (secret: string) => createHmac('sha256', secret).update('outdial idempotency results').digest();

function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && timingSafeEqual(x, y);
}

/** A new business key: the whole key (shown once), its lookup prefix and the hash that is stored. */
export function newBusinessKey(): { key: string; prefix: string; secretHash: string } {
  const raw = randomBytes(33).toString('base64url');
  const key = `odk_${raw}`;
  return { key, prefix: key.slice(0, 16), secretHash: sha256(key) };
}

/** The admin key configuration's hashes, computed once at start. */
export function adminKeyHashes(adminKeys: readonly string[]): string[] {
  return adminKeys.map(sha256);
}

/**
 * Resolves a bearer secret to its principal, or null. Every comparison is of hashes in constant time;
 * a business key's lookup is by its public prefix, so the secret never appears in a query.
 */
export async function authenticate(database: Database, adminHashes: readonly string[], secret: string): Promise<Principal | null> {
  const hash = sha256(secret);
  let admin = -1;
  // Compare with every admin key, not stopping at the first match, so timing says nothing of which.
  adminHashes.forEach((h, i) => {
    if (sameHash(h, hash) && admin < 0) admin = i;
  });
  if (admin >= 0) return { kind: 'admin', id: `admin:${adminHashes[admin]!.slice(0, 16)}`, credentialKey: credentialKeyOf(secret) };
  if (!KEY_PATTERN.test(secret)) return null;
  const row = await findLiveApiKey(database.pool, secret.slice(0, 16));
  if (!row || !sameHash(row.secret_hash, hash)) return null;
  // Recorded at most once a minute, decided from the row just read (no write on the hot path);
  // best effort: a failed write must not fail the request.
  if (!row.last_used_at || Date.now() - row.last_used_at.getTime() > LAST_USED_RESOLUTION_MS) void touchApiKey(database.pool, row.id).catch(() => undefined);
  return { kind: 'business', id: row.id, businessId: row.business_id, credentialKey: credentialKeyOf(secret) };
}

/** Whether the principal may see and act on this business: admins on all, a business key on its own. */
export function mayAccessBusiness(principal: Principal, businessId: string): boolean {
  return principal.kind === 'admin' || principal.businessId === businessId;
}
