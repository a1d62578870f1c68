import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import type { PoolClient } from 'pg';
import type { Database } from '../db/client';
import type { Executor } from '../db/queries/executor';
import {
  claimIdempotencyKey,
  deleteIdempotencyKey,
  expireIdempotencyKeys,
  storeIdempotentResult,
  type SealedResult,
} from '../db/queries/idempotency';
import type { Principal } from './principal';

/**
 * Idempotent creation. A command that carries an idempotency key claims it in the same transaction
 * that writes what it creates, and stores its result there too: the same key with the same request
 * within 24 hours replays that result and creates nothing, also when both requests arrive at once on
 * two API processes (the second waits on the key's row until the first commits). A request that
 * fails before committing leaves no trace, so its retry runs afresh.
 */

export const IDEMPOTENCY_TTL_SECONDS = 24 * 60 * 60;

export interface IdempotencyKey {
  principal: Principal;
  key: string;
  /** What the request asked for (route and body): the same key with another request is refused. */
  requestHash: string;
}

/** The same key came with a different request. */
export class IdempotencyKeyReused extends Error {
  constructor(readonly key: string) {
    super(`Idempotency-Key ${JSON.stringify(key)} was already used with a different request`);
  }
}

/** A request's fingerprint: its route and its body, with object keys in a canonical order. */
export function requestFingerprint(route: string, body: unknown): string {
  return createHash('sha256').update(route).update('\n').update(canonicalJson(body)).digest('hex');
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}

function seal(principal: Principal, value: unknown): SealedResult {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', principal.credentialKey, iv);
  const data = Buffer.concat([cipher.update(JSON.stringify(value), 'utf8'), cipher.final()]);
  return { iv: iv.toString('base64'), tag: cipher.getAuthTag().toString('base64'), data: data.toString('base64') };
}

function unseal<T>(principal: Principal, sealed: SealedResult): T {
  const decipher = createDecipheriv('aes-256-gcm', principal.credentialKey, Buffer.from(sealed.iv, 'base64'));
  decipher.setAuthTag(Buffer.from(sealed.tag, 'base64'));
  return JSON.parse(Buffer.concat([decipher.update(Buffer.from(sealed.data, 'base64')), decipher.final()]).toString('utf8')) as T;
}

/**
 * Inside the creating transaction, before anything is written or after (then a replay must roll the
 * writes back): null when the key is ours to use (or there is none), else the earlier result to
 * replay. Throws `IdempotencyKeyReused`.
 */
export async function claimOrReplay<T>(client: PoolClient, idem: IdempotencyKey | undefined): Promise<{ replay: T } | null> {
  if (!idem) return null;
  for (let attempt = 0; attempt < 2; attempt += 1) {
    const claim = await claimIdempotencyKey(client, idem.principal.id, idem.key, idem.requestHash, IDEMPOTENCY_TTL_SECONDS);
    if (claim.claimed) return null;
    const existing = claim.row;
    // Gone between the conflict and the read (it expired): claim again.
    if (!existing) continue;
    if (existing.request_hash !== idem.requestHash) throw new IdempotencyKeyReused(idem.key);
    if (existing.result) return { replay: unseal<T>(idem.principal, existing.result) };
  }
  // A row committed without a result cannot happen (claim and result share a transaction).
  throw new Error(`idempotency key ${idem.key} holds no result`);
}

/** Stores the result to replay; inside the creating transaction, or later to replace a provisional one. */
export async function recordResult(db: Executor, idem: IdempotencyKey | undefined, result: unknown): Promise<void> {
  if (idem) await storeIdempotentResult(db, idem.principal.id, idem.key, seal(idem.principal, result));
}

/** Forgets the key: what it created was undone, so a retry must be free to run again. */
export async function releaseKey(database: Database, idem: IdempotencyKey | undefined): Promise<void> {
  if (idem) await deleteIdempotencyKey(database.pool, idem.principal.id, idem.key);
}

export function expireOldKeys(database: Database, limit = 10_000): Promise<number> {
  return expireIdempotencyKeys(database.pool, IDEMPOTENCY_TTL_SECONDS, limit);
}
