import { inTransaction } from '../db/client';
import { fieldsOfRow, findBusiness, insertBusiness, listBusinessRows, lockBusiness, ownedCallerIds, updateBusiness, type BusinessFields, type BusinessRow } from '../db/queries/businesses';
import { countActiveCalls, countActiveCallsOf } from '../db/queries/calls';
import type { TimeKey } from '../db/queries/keyset';
import type { CallingWindow, VoiceApp } from '../db/settings';
import type { DomainDeps } from './deps';
import { claimOrReplay, recordResult, type IdempotencyKey } from './idempotency';
import { pageRows, timeKeyOf, type Page } from './pagination';

/** Businesses: the tenant, its caller IDs, its limit and reserved direct slots, its default voice app. */

export interface BusinessView {
  id: string;
  name: string;
  /** The default caller ID. */
  callerId: string;
  /** Every caller ID the business owns, the default first: a run or direct call may pick any. */
  callerIds: string[];
  maxConcurrentCalls: number;
  reservedDirectSlots: number;
  /** The voice app of calls that name none; null = Outdial's short greeting. */
  voiceApp: VoiceApp | null;
  /** The zone of leads whose number says none. */
  timeZone: string;
  /** Its runs' calling window unless a run sets one; null = 08:00–21:00 in each lead's zone, every day. */
  callingWindow: CallingWindow | null;
  activeCalls: number;
  createdAt: string;
}

function view(row: BusinessRow, activeCalls: number): BusinessView {
  return {
    id: row.id,
    name: row.name,
    callerId: row.caller_id,
    callerIds: ownedCallerIds(row),
    maxConcurrentCalls: row.max_concurrent_calls,
    reservedDirectSlots: row.reserved_direct_slots,
    voiceApp: row.voice_app,
    timeZone: row.time_zone,
    callingWindow: row.calling_window,
    activeCalls,
    createdAt: row.created_at.toISOString(),
  };
}

export interface BusinessInput {
  name: string;
  callerId: string;
  callerIds?: string[] | undefined;
  maxConcurrentCalls: number;
  reservedDirectSlots?: number | undefined;
  voiceApp?: VoiceApp | null | undefined;
  timeZone?: string | undefined;
  callingWindow?: CallingWindow | null | undefined;
}

export type BusinessResult = { ok: true; business: BusinessView } | { ok: false; reason: 'not-found' } | { ok: false; reason: 'invalid'; message: string };

/** The one rule between the fields: runs must keep at least one slot. */
function problemWith(fields: BusinessFields): string | null {
  if (fields.reservedDirectSlots >= fields.maxConcurrentCalls) {
    return `reservedDirectSlots (${fields.reservedDirectSlots}) must be less than maxConcurrentCalls (${fields.maxConcurrentCalls}), so runs keep at least one slot`;
  }
  return null;
}

function fieldsOf(input: BusinessInput, current?: BusinessFields): BusinessFields {
  const callerId = input.callerId;
  const others = input.callerIds ?? current?.callerIds ?? [];
  return {
    name: input.name,
    callerId,
    callerIds: [...new Set(others)].filter((n) => n !== callerId),
    maxConcurrentCalls: input.maxConcurrentCalls,
    reservedDirectSlots: input.reservedDirectSlots ?? current?.reservedDirectSlots ?? 0,
    voiceApp: input.voiceApp === undefined ? (current?.voiceApp ?? null) : input.voiceApp,
    timeZone: input.timeZone ?? current?.timeZone ?? 'America/New_York',
    callingWindow: input.callingWindow === undefined ? (current?.callingWindow ?? null) : input.callingWindow,
  };
}

export function createBusiness(deps: Pick<DomainDeps, 'database'>, input: BusinessInput, idem?: IdempotencyKey): Promise<BusinessResult> {
  const fields = fieldsOf(input);
  const problem = problemWith(fields);
  if (problem) return Promise.resolve({ ok: false, reason: 'invalid', message: problem });
  return inTransaction(deps.database, async (client) => {
    const replayed = await claimOrReplay<BusinessResult>(client, idem);
    if (replayed) return replayed.replay;
    const created: BusinessResult = { ok: true, business: view(await insertBusiness(client, fields), 0) };
    await recordResult(client, idem, created);
    return created;
  });
}

export async function getBusiness(deps: Pick<DomainDeps, 'database'>, id: string): Promise<BusinessView | null> {
  const row = await findBusiness(deps.database.pool, id);
  return row ? view(row, await countActiveCalls(deps.database.pool, id)) : null;
}

/** Every business, newest first, a page at a time (admin). */
export async function listBusinesses(deps: Pick<DomainDeps, 'database'>, page: { before: TimeKey | null; limit: number }): Promise<Page<BusinessView>> {
  const { rows, nextCursor } = pageRows(await listBusinessRows(deps.database.pool, { before: page.before, limit: page.limit + 1 }), page.limit, timeKeyOf);
  const active = await countActiveCallsOf(deps.database.pool, rows.map((r) => r.id));
  return { data: rows.map((row) => view(row, active.get(row.id) ?? 0)), nextCursor };
}

/**
 * Changes the given fields (absent ones keep their value; callerIds replaces the list). Under the
 * slot lock, so the check between limit and reserved slots sees the row it changes. More slots for
 * runs (a higher limit, fewer reserved) are free at once, and a new calling window or time zone may
 * open leads a run sleeps for (its timer is set to the old opening): the business's runs are woken.
 */
export async function changeBusiness(deps: Pick<DomainDeps, 'database' | 'wakeRuns'>, id: string, change: Partial<BusinessInput>): Promise<BusinessResult> {
  const result = await inTransaction(deps.database, async (client): Promise<BusinessResult & { wake?: boolean }> => {
    const before = await lockBusiness(client, id);
    if (!before) return { ok: false, reason: 'not-found' };
    const current = fieldsOfRow(before);
    const fields = fieldsOf(
      {
        name: change.name ?? current.name,
        callerId: change.callerId ?? current.callerId,
        callerIds: change.callerIds,
        maxConcurrentCalls: change.maxConcurrentCalls ?? current.maxConcurrentCalls,
        reservedDirectSlots: change.reservedDirectSlots,
        voiceApp: change.voiceApp,
        timeZone: change.timeZone,
        callingWindow: change.callingWindow,
      },
      // A new default caller ID keeps the old one owned unless the list is replaced too.
      change.callerIds === undefined ? { ...current, callerIds: [current.callerId, ...current.callerIds] } : current,
    );
    const problem = problemWith(fields);
    if (problem) return { ok: false, reason: 'invalid', message: problem };
    const row = (await updateBusiness(client, id, fields))!;
    const runSlots = (f: BusinessFields) => f.maxConcurrentCalls - f.reservedDirectSlots;
    const windowChanged = row.time_zone !== before.time_zone || JSON.stringify(row.calling_window) !== JSON.stringify(before.calling_window);
    return { ok: true, business: view(row, await countActiveCalls(client, id)), wake: runSlots(fields) > runSlots(current) || windowChanged };
  });
  if (result.ok && result.wake) await deps.wakeRuns(id);
  if (!result.ok) return result;
  return { ok: true, business: result.business };
}
