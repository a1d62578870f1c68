import { randomUUID } from 'node:crypto';
import type { PoolClient } from 'pg';
import { callVariables } from '../calls/instructions';
import { amdCallbackUrl, statusCallbackUrl } from '../calls/status-callback-url';
import { inTransaction, Rollback, type Database } from '../db/client';
import { insertReservedCallUnderLimit, type CallRow } from '../db/queries/calls';
import { lockBusiness, ownedCallerIds } from '../db/queries/businesses';
import { doNotCallEntries } from '../db/queries/do-not-call';
import type { LeadVariables, MachineDetection, VoiceApp } from '../db/settings';
import { recordSends, sendPlacesLeft } from '../db/queries/carrier-sends';
import { isPaced, onMachineOf, slotsOf, type BusinessSlots, type Pacing, type ReservedCall } from './slots';
import { observeSlotRefills, refillsSince } from '../metrics/slot-refill';

export interface DirectCallRequest {
  to: string;
  /** One of the business's caller IDs; default its default. */
  callerId?: string | undefined;
  /** Default: the business's voice app. */
  voiceApp?: VoiceApp | undefined;
  variables?: LeadVariables | undefined;
  machineDetection?: MachineDetection | undefined;
}

export type DirectReservation =
  | { ok: true; call: ReservedCall; slots: BusinessSlots }
  | { ok: false; reason: 'business-not-found' | 'do-not-call' | 'stopped' }
  | { ok: false; reason: 'caller-id-not-owned'; callerIds: string[] }
  | { ok: false; reason: 'at-limit'; slots: BusinessSlots }
  | { ok: false; reason: 'paced'; nextFreeAt: Date | null };

/** What a caller does inside the reservation's transaction (e.g. an idempotency record). */
export interface ReservationHooks {
  /** First, before anything is read; `true` stops: nothing is reserved and the transaction commits what the hook did. */
  before?: (client: PoolClient) => Promise<boolean>;
  /** Once the slot is reserved, to commit with it: the call and its row as inserted. */
  after?: (client: PoolClient, call: ReservedCall, row: CallRow) => Promise<void>;
}

/**
 * A direct call reads the do-not-call lists (before the business's slot lock: they hold no
 * slot), takes the lock, checks its caller ID and the lists, and in one statement counts every
 * slot of the business (reserved direct slots included) and inserts its `reserved` row, or is
 * refused; a refusal rolls back whatever `hooks.before` wrote. Under the lock: the lock, the
 * counted insert, the carrier account's pace when it is paced, `hooks.after`, the commit (a direct
 * call in a storm of them waits for the others that long).
 */
export async function reserveDirectCall(
  database: Database,
  businessId: string,
  request: DirectCallRequest,
  publicBaseUrl: string,
  hooks: ReservationHooks = {},
  pacing: Pacing | null = null,
): Promise<DirectReservation> {
  const refuse = (refusal: DirectReservation) => new Rollback<DirectReservation>(refusal);
  let refills: number[] = [];
  const reservation = await inTransaction(database, async (client): Promise<DirectReservation> => {
    if (await hooks.before?.(client)) return { ok: false, reason: 'stopped' };
    // Read before the lock (the lists hold no slot), refused in the order the checks always had.
    const listed = (await doNotCallEntries(client, businessId, request.to)).length > 0;
    const business = await lockBusiness(client, businessId);
    if (!business) throw refuse({ ok: false, reason: 'business-not-found' });
    const owned = ownedCallerIds(business);
    const from = request.callerId ?? business.caller_id;
    if (!owned.includes(from)) throw refuse({ ok: false, reason: 'caller-id-not-owned', callerIds: owned });
    if (listed) throw refuse({ ok: false, reason: 'do-not-call' });
    const callId = randomUUID();
    const amd = request.machineDetection ?? null;
    const call: ReservedCall = {
      callId,
      to: request.to,
      from,
      statusCallbackUrl: statusCallbackUrl(publicBaseUrl, callId),
      amdCallbackUrl: amd?.async ? amdCallbackUrl(publicBaseUrl, callId) : null,
      paced: isPaced(pacing),
      instructions: {
        voiceApp: request.voiceApp ?? business.voice_app,
        variables: callVariables({ name: null, variables: request.variables ?? null }, { callId }),
        machineDetection: amd,
      },
    };
    const { active, reserved } = await insertReservedCallUnderLimit(
      client,
      { businessId, from, limit: business.max_concurrent_calls },
      { id: callId, to: request.to, statusCallbackUrl: call.statusCallbackUrl, onMachine: onMachineOf(call.instructions), amdCallbackUrl: call.amdCallbackUrl },
      refillsSince(business),
    );
    const slots = slotsOf(business, active);
    if (!reserved) throw refuse({ ok: false, reason: 'at-limit', slots });
    // The account's pace last (its lock is every business's of the account); a refusal rolls the reservation back.
    if (isPaced(pacing)) {
      const places = await sendPlacesLeft(client, pacing);
      if (places.left <= 0) throw refuse({ ok: false, reason: 'paced', nextFreeAt: places.nextFreeAt });
      await recordSends(client, pacing.account, [callId]);
    }
    refills = reserved.refills;
    await hooks.after?.(client, call, reserved.row);
    return { ok: true, call, slots: { ...slots, active: slots.active + 1 } };
  });
  // Only a reservation that committed refilled a slot (a refusal rolled back, refills included).
  if (reservation.ok) observeSlotRefills('direct', refills);
  return reservation;
}
