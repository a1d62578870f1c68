import type { Config } from '../config';

/**
 * When reconciliation asks the carrier about an active call again (src/calls/reconcile.ts). A dial
 * whose outcome is unknown (no SID: the answer was lost, timed out, or a 5xx) is asked about soon,
 * RECONCILE_FIRST_CHECK_SECONDS after it happened, then with a doubling backoff up to
 * RECONCILE_AFTER_SECONDS (5, 10, 20, 40, 80, 120 s by default); any other call (a live call whose
 * callbacks stopped, a reservation never dialed) once per RECONCILE_AFTER_SECONDS of quiet. A check
 * that fails (the carrier unreachable) moves the call back just the same, so no failing call is
 * picked first again and starves the others.
 */
export type CheckSchedule = Pick<Config, 'reconcileFirstCheckSeconds' | 'reconcileAfterSeconds'>;

/** Seconds until the next check of a call, after `checks` checks without news (0: the first check). */
export function checkDelaySeconds(schedule: CheckSchedule, outcomeUnknown: boolean, checks: number): number {
  if (!outcomeUnknown) return schedule.reconcileAfterSeconds;
  return Math.min(schedule.reconcileFirstCheckSeconds * 2 ** checks, schedule.reconcileAfterSeconds);
}
