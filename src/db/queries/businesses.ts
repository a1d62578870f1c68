import type { PoolClient } from 'pg';
import type { CallingWindow, VoiceApp } from '../settings';
import type { Executor } from './executor';
import { CREATED_US, FROM_US, type TimeKey } from './keyset';

/** Queries of the `businesses` table. */

export interface BusinessRow {
  id: string;
  name: string;
  caller_id: string;
  caller_ids: string[];
  max_concurrent_calls: number;
  reserved_direct_slots: number;
  voice_app: VoiceApp | null;
  time_zone: string;
  calling_window: CallingWindow | null;
  created_at: Date;
  last_claim_at: Date | null;
  /** See schema.ts `slotVersion` (bigint: a string, compared and passed back as it is). */
  slot_version: string;
}

export interface BusinessFields {
  name: string;
  callerId: string;
  /** The business's other caller IDs (the default is always owned). */
  callerIds: string[];
  maxConcurrentCalls: number;
  reservedDirectSlots: number;
  /** null = Outdial's greeting. */
  voiceApp: VoiceApp | null;
  /** IANA zone of leads whose number says none. */
  timeZone: string;
  /** null = the default window. */
  callingWindow: CallingWindow | null;
}

/** The caller IDs a business may dial from: the default first, then its others. */
export function ownedCallerIds(row: Pick<BusinessRow, 'caller_id' | 'caller_ids'>): string[] {
  return [row.caller_id, ...row.caller_ids.filter((n) => n !== row.caller_id)];
}

/** A row's writable fields, as `updateBusiness` takes them. */
export function fieldsOfRow(row: BusinessRow): BusinessFields {
  return {
    name: row.name,
    callerId: row.caller_id,
    callerIds: row.caller_ids,
    maxConcurrentCalls: row.max_concurrent_calls,
    reservedDirectSlots: row.reserved_direct_slots,
    voiceApp: row.voice_app,
    timeZone: row.time_zone,
    callingWindow: row.calling_window,
  };
}

export async function insertBusiness(db: Executor, fields: BusinessFields): Promise<BusinessRow> {
  const r = await db.query<BusinessRow>(
    `INSERT INTO businesses (name, caller_id, caller_ids, max_concurrent_calls, reserved_direct_slots, voice_app, time_zone, calling_window)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING *`,
    [fields.name, fields.callerId, fields.callerIds, fields.maxConcurrentCalls, fields.reservedDirectSlots, fields.voiceApp, fields.timeZone, fields.callingWindow],
  );
  return r.rows[0]!;
}

export async function findBusiness(db: Executor, id: string): Promise<BusinessRow | null> {
  return (await db.query<BusinessRow>('SELECT * FROM businesses WHERE id = $1', [id])).rows[0] ?? null;
}

/** Writes every field (the domain merges a change into the current row first). */
export async function updateBusiness(db: Executor, id: string, fields: BusinessFields): Promise<BusinessRow | null> {
  const r = await db.query<BusinessRow>(
    `UPDATE businesses SET name = $2, caller_id = $3, caller_ids = $4, max_concurrent_calls = $5, reserved_direct_slots = $6, voice_app = $7,
            time_zone = $8, calling_window = $9
      WHERE id = $1 RETURNING *`,
    [id, fields.name, fields.callerId, fields.callerIds, fields.maxConcurrentCalls, fields.reservedDirectSlots, fields.voiceApp, fields.timeZone, fields.callingWindow],
  );
  return r.rows[0] ?? null;
}

/** The channel Postgres announces a business's freed slots on (drizzle/0017_dial_sessions.sql); the payload is the business ID. */
export const SLOTS_CHANNEL = 'outdial_slots';

/** Tells the business's dial sessions to pass again now (its calls are due for a check: one may free a slot). */
export async function notifySlots(db: Executor, businessId: string): Promise<void> {
  await db.query('SELECT pg_notify($1, $2)', [SLOTS_CHANNEL, businessId]);
}

/**
 * Takes the business's slot lock for the rest of the transaction (`FOR NO KEY UPDATE`: it does not
 * conflict with the `FOR KEY SHARE` locks foreign-key checks take) and reads the row under it.
 */
export async function lockBusiness(client: PoolClient, id: string): Promise<BusinessRow | null> {
  return (await client.query<BusinessRow>('SELECT * FROM businesses WHERE id = $1 FOR NO KEY UPDATE', [id])).rows[0] ?? null;
}

/** A page of businesses, newest first, after the keyset `before` (created_at in µs since the epoch, id). */
export async function listBusinessRows(db: Executor, page: { before: TimeKey | null; limit: number }): Promise<(BusinessRow & { created_us: string })[]> {
  const r = await db.query<BusinessRow & { created_us: string }>(
    `SELECT *, ${CREATED_US} AS created_us FROM businesses
      WHERE $1::bigint IS NULL OR (created_at, id) < (${FROM_US('$1')}, $2::uuid)
      ORDER BY created_at DESC, id DESC LIMIT $3`,
    [page.before?.createdUs ?? null, page.before?.id ?? null, page.limit],
  );
  return r.rows;
}
