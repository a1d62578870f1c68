import type { PoolClient } from 'pg';
import type { BusinessRow } from '../db/queries/businesses';
import { secondsSinceSlotsFreedStampingClaim } from '../db/queries/calls';
import type { CallDirection } from '../db/statuses';
import { slotRefillSeconds } from './registry';

/**
 * Frees older than this are not a refill: a run with leads waiting re-checks well within it (its
 * wake-up fallback), so a slot idle that long had no run waiting for it.
 */
export const SLOT_REFILL_HORIZON_SECONDS = 300;

/**
 * Inside a claim that took `claimed` slots of the business, under its slot lock: the waits of the
 * slots it refilled, that is, of up to `claimed` slots freed by a terminal status since the
 * business's previous claim (oldest first), each from its `ended_at` to now; then stamps this claim
 * as the previous one. Observe the waits once the claim commits (`observeSlotRefills`).
 */
export async function slotRefillWaits(client: PoolClient, business: Pick<BusinessRow, 'id' | 'last_claim_at'>, claimed: number): Promise<number[]> {
  return secondsSinceSlotsFreedStampingClaim(client, business.id, business.last_claim_at, SLOT_REFILL_HORIZON_SECONDS, claimed);
}

export function observeSlotRefills(direction: CallDirection, waits: readonly number[]): void {
  for (const seconds of waits) slotRefillSeconds.observe({ direction }, seconds);
}
