import type { Config } from '../config';

/**
 * When reconciliation asks the carrier about an active call again (src/calls/reconcile.ts). Each
 * kind of call starts from its own first delay and doubles it after every check without news, up to
 * RECONCILE_AFTER_SECONDS:
 * - a dial whose outcome is unknown (no SID: the answer was lost, timed out, or a 5xx) from
 *   RECONCILE_FIRST_CHECK_SECONDS (5, 10, 20, 40, 80, 120 s by default): its slot may be free;
 *   while the carrier has no such call but the create may still reach it, the next check is no
 *   later than the moment it may be withdrawn (the request timeout after a failed create, at most
 *   withdrawableAfterSeconds, 20 s, after the dial);
 * - a live call whose callbacks stopped, or a reservation never dialed, from
 *   RECONCILE_QUIET_CALL_SECONDS of quiet (20, 40, 80, 120 s): a lost final callback costs a
 *   slot ~20 s, while a long conversation costs one request per 2 minutes once it is past 140 s.
 * A check that fails (the carrier unreachable) moves the call back just the same, so no failing
 * call is picked first again and starves the others.
 *
 * Carrier traffic, worst case per 1,000 live calls whose callbacks all stop at once: 2,000 fetches
 * in their first minute (checks at 20 and 60 s), 500 a minute from the third on. The checks of one
 * business run one at a time in its dial pass or the sweep, so they never add more than one
 * request in flight per business.
 */
export type CheckSchedule = Pick<Config, 'reconcileFirstCheckSeconds' | 'reconcileQuietCallSeconds' | 'reconcileAfterSeconds'>;

/** Seconds of quiet before an active call with no scheduled check is first asked about. */
export function quietCallCheckSeconds(schedule: CheckSchedule): number {
  return Math.min(schedule.reconcileQuietCallSeconds, schedule.reconcileAfterSeconds);
}

/** Seconds until the next check of a call, after `checks` checks without news (0: the first check). */
export function checkDelaySeconds(schedule: CheckSchedule, outcomeUnknown: boolean, checks: number): number {
  const first = outcomeUnknown ? schedule.reconcileFirstCheckSeconds : schedule.reconcileQuietCallSeconds;
  return Math.min(first * 2 ** checks, schedule.reconcileAfterSeconds);
}
