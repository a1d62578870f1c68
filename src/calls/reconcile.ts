import type { Config } from '../config';
import type { Database } from '../db/client';
import { checkCallsQuietSince, dialsWithoutSid, markCarrierUnknown, takeCallsDueForCheck, ownedCallSids, scheduleNextCheck, withdrawReservation, type DueCall } from '../db/queries/calls';
import { CALL_STATUSES, type CallStatus } from '../db/statuses';
import type { Logger } from '../logger';
import { reconcileOutcomes, timeCarrierRequest } from '../metrics/registry';
import type { TelephonyClient } from '../telephony/client';
import { applyCallStatus } from './apply-status';
import type { WakeRuns } from './wake-runs';
import { withdrawableAfterSeconds } from './place-call';
import { checkDelaySeconds, quietCallCheckSeconds, type CheckSchedule } from './check-schedule';

export interface ReconcileDeps {
  database: Database;
  telephony: TelephonyClient;
  logger: Logger;
  config: CheckSchedule & Pick<Config, 'twilio'>;
}

export interface ReconcileResult {
  /** Calls whose status the carrier moved forward (slots freed when that status is terminal). */
  settled: number;
  /** Reservations the carrier never turned into a call: withdrawn, their jobs queued again. */
  withdrawn: number;
  /** Slots freed by this reconciliation. */
  freed: number;
}

/** How far before our reservation a carrier's call may be dated and still be ours (clock skew). */
const CLOCK_SKEW_MS = 60_000;
/** Calls looked at per pass: reconciliation must never make a dial pass slow. */
const BATCH = 20;
/** Beyond the request's own timeout: the check's database writes. */
const LEASE_MARGIN_SECONDS = 10;

type StaleCall = DueCall;

/**
 * Asks the carrier about a business's active calls that are due for a check (src/calls/check-schedule.ts):
 * a lost final callback, a dial whose answer timed out, a reservation left by a worker that died
 * between claim and dial. Their truth comes from the carrier, never from a guess: a call the
 * carrier has is settled from its status (the slot stays held until the carrier says it ended);
 * only a reservation the carrier has no call for is withdrawn. Nothing is ever re-dialed here.
 */
export async function reconcileStaleCalls(deps: ReconcileDeps, businessId: string): Promise<ReconcileResult> {
  // Taken one at a time, each leased for its own request: a pass that dies (its worker killed,
  // Postgres gone) holds back one call for seconds, never a batch for minutes.
  const leaseSeconds = deps.config.twilio.requestTimeoutMs / 1000 + LEASE_MARGIN_SECONDS;
  const result: ReconcileResult = { settled: 0, withdrawn: 0, freed: 0 };
  for (let i = 0; i < BATCH; i++) {
    const [call] = await takeCallsDueForCheck(deps.database.pool, businessId, {
      seconds: quietCallCheckSeconds(deps.config),
      limit: 1,
      leaseSeconds,
      afterDialSeconds: withdrawableAfterSeconds(deps.config),
    });
    if (!call) break;
    try {
      const outcome = call.twilio_call_sid ? await refreshFromCarrier(deps, call, call.twilio_call_sid) : await findAtCarrier(deps, call);
      if (outcome === 'withdrawn') result.withdrawn += 1;
      if (outcome === 'settled' || outcome === 'freed') result.settled += 1;
      if (outcome === 'freed' || outcome === 'withdrawn') result.freed += 1;
      reconcileOutcomes.inc({ outcome });
    } catch (err) {
      reconcileOutcomes.inc({ outcome: 'error' });
      // The carrier is unreachable: ask again after the call's next delay, behind the calls due
      // before it (else a batch of failing calls is picked first every pass); the slot stays held.
      deps.logger.warn({ callId: call.id, err: (err as Error).message }, 'could not reconcile a call with the carrier');
      await scheduleCheck(deps, call, false);
    }
  }
  return result;
}

/**
 * An API process starts: while none was up, the carrier's callbacks were refused (Twilio retries a
 * refused one once, at once). Every dialed call quiet since `since` is checked now, in its
 * business's next dial pass, and the live runs are woken for it: a slot freed while the API was
 * down is used again within a second or so of its start, not after the call's quiet period.
 */
export async function checkAfterApiStart(deps: { database: Database; wakeRuns: WakeRuns; logger: Logger }, since: Date): Promise<string[]> {
  const businesses = await checkCallsQuietSince(deps.database.pool, since);
  await Promise.all(businesses.map((businessId) => deps.wakeRuns(businessId, { checkDue: true })));
  if (businesses.length > 0) deps.logger.info({ businesses: businesses.length }, 'API started: active calls of these businesses are checked with the carrier now');
  return businesses;
}

type Outcome = 'settled' | 'freed' | 'withdrawn' | 'unchanged';

/** A call with a SID: fetch it and apply its status; mark it checked so it is asked about once per period. */
async function refreshFromCarrier(deps: ReconcileDeps, call: StaleCall, sid: string): Promise<Outcome> {
  let status: CallStatus;
  let duration: number | null;
  try {
    const fetched = await timeCarrierRequest('fetch', () => deps.telephony.calls(sid).fetch());
    status = asCallStatus(fetched.status);
    duration = fetched.duration ? Number(fetched.duration) : null;
  } catch (err) {
    if ((err as { status?: number }).status !== 404) throw err;
    // Unknown to the carrier (other credentials? deleted?): it may still be live somewhere, so the
    // slot stays held rather than risk one call more than the limit. An operator must look
    // (GET /v1/held-calls, POST /v1/calls/:callId/release).
    deps.logger.warn({ callId: call.id, callSid: sid }, 'the carrier does not know this call; its slot stays held');
    await markCarrierUnknown(deps.database.pool, call.id);
    return markChecked(deps, call, false);
  }
  return settle(deps, call, sid, status, duration);
}

/**
 * A reservation without a SID: the dial's answer was lost (timeout, 5xx, a crash). Look for a call
 * to that number from that caller ID created since the reservation that no other row owns.
 * Other dials to the same number whose SID is unknown may own those calls too: while one of their
 * creates may still be answered, nothing is adopted (that answer names its call); once none can,
 * the dials take the carrier's unowned calls in order, the oldest dial the oldest call. Adopting
 * another dial's call would leave that dial's SID unrecordable (a SID belongs to one row) and it
 * withdrawn and dialed again.
 */
async function findAtCarrier(deps: ReconcileDeps, call: StaleCall): Promise<Outcome> {
  // No dial attempt ever began (its process died between claim and dial): nothing to ask about.
  if (call.dialed_at === null) return withdraw(deps, call, 'never dialed: the reservation was left behind');
  const dials = await dialsWithoutSid(deps.database.pool, call.to_number, call.from_number, withdrawableAfterSeconds(deps.config));
  const others = dials.filter((d) => d.id !== call.id);
  const since = Math.min(call.created_at.getTime(), ...others.map((d) => d.createdAt.getTime())) - CLOCK_SKEW_MS;
  const candidates = await timeCarrierRequest('list', () => deps.telephony.calls.list({ to: call.to_number, from: call.from_number, limit: BATCH }));
  const recent = candidates.filter((c) => c.dateCreated.getTime() >= since);
  const owned = await ownedCallSids(deps.database.pool, recent.map((c) => c.sid));
  const unowned = recent.filter((c) => !owned.has(c.sid)).sort((a, b) => a.dateCreated.getTime() - b.dateCreated.getTime());
  const inFlight = others.filter((d) => d.inFlightSeconds > 0);
  if (unowned.length > 0 && inFlight.length > 0) {
    return markChecked(deps, call, false, Math.max(1, ...inFlight.map((d) => d.inFlightSeconds)));
  }
  const rank = Math.max(0, dials.findIndex((d) => d.id === call.id));
  const ours = unowned[rank];
  if (ours) return settle(deps, call, ours.sid, asCallStatus(ours.status), ours.duration ? Number(ours.duration) : null);
  // Its create may still reach the carrier (calls.withdrawable_at, else the dial bound): ask again
  // later, and no later than the moment it may be withdrawn, so its slot never stands empty past it.
  const withdrawableInSeconds = call.withdrawable_in_seconds ?? 0;
  if (withdrawableInSeconds > 0) return markChecked(deps, call, false, withdrawableInSeconds);
  return withdraw(deps, call, 'never placed: the carrier has no such call');
}

/** Frees a reservation that never became a call: a bulk job goes back to the queue, a direct call fails. */
async function withdraw(deps: ReconcileDeps, call: StaleCall, reason: string): Promise<Outcome> {
  if (call.direction === 'bulk') {
    // Atomic with the same rule: a dial that began since this call was read keeps its reservation.
    const withdrawn = await withdrawReservation(deps.database.pool, call.id, { afterDialSeconds: withdrawableAfterSeconds(deps.config) });
    if (!withdrawn) return markChecked(deps, call, false);
  } else await applyCallStatus(deps.database, { callId: call.id, status: 'failed', errorMessage: reason });
  deps.logger.info({ callId: call.id, to: call.to_number, reason }, 'call reconciled: never placed, reservation withdrawn');
  return 'withdrawn';
}

async function settle(deps: ReconcileDeps, call: StaleCall, sid: string, status: CallStatus, durationSeconds: number | null): Promise<Outcome> {
  const applied = await applyCallStatus(deps.database, { callId: call.id, callSid: sid, status, durationSeconds });
  // The carrier has the call as we know it (or behind us): live, nothing for an operator to look at.
  if (applied.result !== 'applied') return markChecked(deps, call, true);
  deps.logger.info({ callId: call.id, callSid: sid, from: call.status, status }, `call reconciled with the carrier: ${status}`);
  return applied.freedSlot ? 'freed' : 'settled';
}

/**
 * Nothing new: asked about again on the call's schedule, or by `withinSeconds` when that is sooner.
 * `confirmed`: the carrier said the call is live.
 */
async function markChecked(deps: ReconcileDeps, call: StaleCall, confirmed: boolean, withinSeconds?: number): Promise<Outcome> {
  await scheduleCheck(deps, call, confirmed, withinSeconds);
  return 'unchanged';
}

async function scheduleCheck(deps: ReconcileDeps, call: StaleCall, confirmed: boolean, withinSeconds = Number.POSITIVE_INFINITY): Promise<void> {
  const delay = Math.min(checkDelaySeconds(deps.config, outcomeUnknown(call), call.checks + 1), withinSeconds);
  await scheduleNextCheck(deps.database.pool, call.id, delay, confirmed);
}

/** A dial that began and never learned whether the carrier created the call (a lost answer, a timeout, a 5xx). */
export function outcomeUnknown(call: Pick<StaleCall, 'status' | 'dialed_at' | 'twilio_call_sid'>): boolean {
  return call.status === 'reserved' && call.dialed_at !== null && call.twilio_call_sid === null;
}

function asCallStatus(status: string): CallStatus {
  if ((CALL_STATUSES as readonly string[]).includes(status) && status !== 'reserved') return status as CallStatus;
  throw new Error(`the carrier reported an unknown call status "${status}"`);
}
