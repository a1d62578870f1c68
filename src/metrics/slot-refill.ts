import type { BusinessRow } from '../db/queries/businesses';
import type { CallDirection } from '../db/statuses';
import { slotRefillSeconds } from './registry';

/**
 * Frees older than this are not a refill: a run with leads waiting re-checks well within it (its
 * wake-up fallback), so a slot idle that long had no run waiting for it.
 */
export const SLOT_REFILL_HORIZON_SECONDS = 300;

/** What a claim's insert measures its refill waits from (insertReservedCallUnderLimit): the business's previous claim, within the horizon. */
export function refillsSince(business: Pick<BusinessRow, 'last_claim_at'>): { since: Date | null; horizonSeconds: number } {
  return { since: business.last_claim_at, horizonSeconds: SLOT_REFILL_HORIZON_SECONDS };
}

export function observeSlotRefills(direction: CallDirection, waits: readonly number[]): void {
  for (const seconds of waits) slotRefillSeconds.observe({ direction }, seconds);
}
