import { MAX_DIAL_DELAY_SECONDS } from '../db/queries/jobs';
import type { PoolClient } from 'pg';
import type { CallInstructions } from '../calls/instructions';
import { lockBusiness, type BusinessRow } from '../db/queries/businesses';
import type { OnMachinePolicy } from '../db/statuses';
import { slotStanding, type SlotStanding } from '../db/queries/runs';
import type { Executor } from '../db/queries/executor';
import { DEFAULT_CALLING_WINDOW } from '../db/settings';

/**
 * Slots: the one place that decides how many calls a business may start.
 *
 * A slot is an outbound call of a business that is not finished. Every outbound call, bulk or
 * direct, has a `calls` row from the moment its slot is reserved (status `reserved`, before the
 * carrier is asked) until the carrier reports a terminal status. The active count is one query over
 * that table, so every worker, run and API process counts the same rows.
 *
 * Why the limit holds: every slot-taker of a business (each run's claim, each direct call, on any
 * process) first takes a row lock on the business (`FOR NO KEY UPDATE`), then counts, then inserts
 * its `reserved` rows, all in one transaction. The lock serialises slot-takers of one business and
 * nobody else; the count therefore sees every committed reservation, and the reservations it adds
 * are visible to the next lock holder. A run's claim may instead count first, without the lock,
 * and take the row only in the statement that claims (claimRound's gate): it claims only if the
 * business's `slot_version`, which triggers move with every reservation and every change of the
 * limits, the calling window or the time zone (drizzle/0022_slot_version.sql, 0023), is the one
 * it counted at, so it commits only what a locked count would have
 * allowed (a call that ended meanwhile only leaves a slot uncounted). Rows only leave the active set when the carrier says the
 * call ended, or when the call certainly never existed there (refused with a 4xx, a 429, a refused
 * connection, or absent when reconciled), so the carrier's live calls are always a subset of our
 * active rows, and active rows never exceed the limit at any commit.
 * Every rule that decides whether a lead may be dialed now lives in that same transaction (the
 * limit, reserved direct slots, a run's cap and fair share, do-not-call), so no rule can be raced.
 * (`FOR NO KEY UPDATE` rather than `FOR UPDATE`: it does not conflict with the `FOR KEY SHARE`
 * locks that foreign-key checks take, so inserting leads or runs never waits on a dial.)
 */

/**
 * A reserved call, ready to dial. Its callback URLs are fixed here and stored on the row, so
 * callbacks are verified against the URL the carrier was actually given, whatever PUBLIC_HOST
 * says by the time they arrive.
 */
export interface ReservedCall {
  callId: string;
  to: string;
  from: string;
  statusCallbackUrl: string;
  /** Set when async answering-machine detection is on. */
  amdCallbackUrl: string | null;
  instructions: CallInstructions;
  /** The claim took it a pacing place (carrier_sends): its dial stamps when the carrier answered. */
  paced: boolean;
}

export interface BusinessSlots {
  limit: number;
  /** Slots only direct calls may use. */
  reservedDirectSlots: number;
  /** Active calls of the business, direct and bulk. */
  active: number;
  /** Active calls of its runs. */
  activeInRuns: number;
}

/**
 * The slot lock for the business's runs (a run's claim, a wake-up): the lock, then in one statement
 * its slots, every running run's demand, `runId`'s status and timing, and its next check with the
 * carrier (`quietSeconds`: CheckSchedule's quiet call delay).
 */
export async function lockBusinessRunSlots(
  client: PoolClient,
  businessId: string,
  look: { runId: string | null; quietSeconds?: number },
): Promise<{ business: BusinessRow; slots: BusinessSlots; standing: SlotStanding } | null> {
  if (!(await lockBusiness(client, businessId))) return null;
  return readBusinessRunSlots(client, businessId, look);
}

/**
 * That reading without the lock (and without a transaction): for a claim that commits only if the
 * business's slot version is unchanged (claimRound's gate), or a decision that takes no slot.
 */
export async function readBusinessRunSlots(
  db: Executor,
  businessId: string,
  look: { runId: string | null; quietSeconds?: number },
): Promise<{ business: BusinessRow; slots: BusinessSlots; standing: SlotStanding } | null> {
  const standing = await slotStanding(db, businessId, { ...look, defaultWindow: DEFAULT_CALLING_WINDOW });
  if (!standing.business) return null;
  return { business: standing.business, slots: slotsOf(standing.business, standing.active), standing };
}

/** A business's slots from its row and its active calls (all of them, and its runs'). */
export function slotsOf(business: BusinessRow, active: { total: number; bulk: number }): BusinessSlots {
  return { limit: business.max_concurrent_calls, reservedDirectSlots: business.reserved_direct_slots, active: active.total, activeInRuns: active.bulk };
}

/** The carrier account's pace: at most `callsPerSecond` creates a second, over every process; 0 = unpaced. */
export interface Pacing {
  account: string;
  callsPerSecond: number;
  /** How long a claimed place without an answer from the carrier still counts: the dial bound plus the request timeout. */
  inFlightSeconds: number;
}

/** Whether claims take places in the account's pacing log (TWILIO_CALLS_PER_SECOND > 0). */
export function isPaced(pacing: Pacing | undefined | null): pacing is Pacing {
  return pacing != null && pacing.callsPerSecond > 0;
}

export function pacingOf(config: { twilio: { accountSid: string; callsPerSecond: number; requestTimeoutMs: number } }): Pacing {
  return {
    account: config.twilio.accountSid,
    callsPerSecond: config.twilio.callsPerSecond,
    inFlightSeconds: MAX_DIAL_DELAY_SECONDS + config.twilio.requestTimeoutMs / 1000,
  };
}

/** What the call row records of detection: the policy, when detection is on. */
export function onMachineOf(instructions: Pick<CallInstructions, 'machineDetection'>): OnMachinePolicy | null {
  return instructions.machineDetection?.onMachine ?? null;
}
