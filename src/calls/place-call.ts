import type { Config } from '../config';
import type { Database } from '../db/client';
import { stampCarrierAnswer } from '../db/queries/carrier-sends';
import { beginDials, recordPlaced, recordUnknownOutcome, withdrawForDoNotCall, withdrawReservation } from '../db/queries/calls';
import type { BeganDial } from '../db/queries/calls';
import type { CallDirection } from '../db/statuses';
import type { Logger } from '../logger';
import { dialOutcomes, timeCarrierRequest } from '../metrics/registry';
import type { TelephonyClient } from '../telephony/client';
import { applyCallStatus, type AppliedStatus } from './apply-status';
import { checkDelaySeconds, type CheckSchedule } from './check-schedule';
import type { ReservedCall } from '../claim/slots';
import { amdParams, voiceParams } from './instructions';
import { statusCallbackEvents } from './status-callback-url';

/**
 * What became of a dial:
 * - `placed`: the carrier accepted the call; the slot stays held until its terminal callback.
 * - `rejected`: the carrier definitely refused it (invalid number and the like); the slot is freed.
 * - `not-sent`: the request certainly created nothing: a 429 that outlasted the SDK's retries (Twilio
 *   never processes those) or a connection that was refused or never resolved. The reservation
 *   is withdrawn and the job can be claimed again.
 * - `account-refused`: the carrier refused the request for a reason of the account or the caller ID
 *   (bad credentials, suspended account, a From it does not own), which every other lead would hit
 *   too. Nothing was created; the reservation is withdrawn and the job stays queued, so a run can
 *   pause with the reason instead of failing its whole list.
 * - `unknown`: timeout, 5xx or a broken connection: the carrier may have created the call, so the
 *   slot stays held and nothing is re-dialed; its status callback (matched by our call ID) or a
 *   reconciliation with the carrier settles it.
 * - `do-not-call`: the number was listed after the claim and before the dial: nothing was sent, the
 *   reservation is gone and a run's job ends `skipped_dnc`.
 */
export type DialOutcome =
  | { kind: 'placed'; callSid: string }
  | { kind: 'rejected'; errorCode: number | null; message: string; freed: AppliedStatus }
  | { kind: 'not-sent'; message: string }
  | { kind: 'account-refused'; errorCode: number | null; message: string }
  | { kind: 'unknown'; message: string }
  | { kind: 'do-not-call'; message: string };

export interface PlaceCallDeps {
  database: Database;
  telephony: TelephonyClient;
  logger: Logger;
  config: CheckSchedule & { twilio: Pick<Config['twilio'], 'ringingCallbacks' | 'requestTimeoutMs'> };
}

interface CarrierError {
  status?: number;
  /** Twilio's error code on a RestException; a Node error code (ECONNREFUSED…) on a network failure. */
  code?: number | string;
  message?: string;
}

/** Failures that happen before a request can reach the carrier: nothing can have been created. */
const NOT_CONNECTED = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN']);

/**
 * Twilio codes that describe the account or the caller ID, not the number dialed: 20003/20005
 * authentication or suspended account, 10001 inactive account, 21210 From not owned or verified,
 * 21212 invalid From, 21213 From missing.
 */
const ACCOUNT_LEVEL_CODES = new Set([10001, 20003, 20005, 21210, 21212, 21213]);

/** The most time a dial may take from its `dialed_at` stamp to sending the create; past it, nothing is sent. */
export const DIAL_SEND_BOUND_SECONDS = 10;

/**
 * How old a dial (its `dialed_at`) must be before reconciliation may conclude the carrier never got
 * it: the dial bound, plus the longest the create request may then be in flight. Sooner when its
 * create failed earlier than that: the request timeout after the failure (calls.withdrawable_at).
 */
export function withdrawableAfterSeconds(config: { twilio: Pick<Config['twilio'], 'requestTimeoutMs'> }): number {
  return DIAL_SEND_BOUND_SECONDS + config.twilio.requestTimeoutMs / 1000;
}

/**
 * Dials the reserved calls of one claim (`direction`: a run's or a direct call, for the dial-outcome
 * metric), in parallel, after one last word for all of them (beginDials: one statement, not one per call).
 */
export async function placeReservedCalls(deps: PlaceCallDeps, calls: readonly ReservedCall[], direction: CallDirection): Promise<DialOutcome[]> {
  if (calls.length === 0) return [];
  // The last word before the carrier is asked: the run must still be running (a pause or cancel
  // that committed since the claim wins), the number on no do-not-call list, and `dialed_at`
  // records that an attempt began, so a reservation without it is known never to have reached the carrier.
  // The local monotonic clock starts before the stamp is written, so it never reads less than the
  // time since `dialed_at` (wall clocks of worker and database may differ; this one cannot jump).
  const beganAt = performance.now();
  const began = await beginDials(deps.database.pool, calls.map((c) => c.callId));
  const recordSid = coalescing((placed: { id: string; sid: string }[]) => recordPlaced(deps.database.pool, placed));
  return Promise.all(
    calls.map(async (call) => {
      const outcome = await dialReservedCall(deps, call, { began: began.get(call.callId)!, beganAt, recordSid });
      dialOutcomes.inc({ outcome: outcome.kind, direction });
      return outcome;
    }),
  );
}

/** Dials one reserved call (a direct call's): placeReservedCalls of one. */
export async function placeReservedCall(deps: PlaceCallDeps, call: ReservedCall, direction: CallDirection): Promise<DialOutcome> {
  return (await placeReservedCalls(deps, [call], direction))[0]!;
}

/**
 * Writes asked for while one is in flight go out together in the next: the SIDs of one claim's
 * creates, answered at about the same moment, take a statement or two, not one each, and none
 * waits longer than the write ahead of it.
 */
function coalescing<T>(write: (items: T[]) => Promise<void>): (item: T) => Promise<void> {
  let queue: { item: T; resolve: () => void; reject: (err: unknown) => void }[] = [];
  let writing = false;
  const drain = async () => {
    writing = true;
    while (queue.length > 0) {
      const batch = queue;
      queue = [];
      try {
        await write(batch.map((b) => b.item));
        for (const b of batch) b.resolve();
      } catch (err) {
        for (const b of batch) b.reject(err);
      }
    }
    writing = false;
  };
  return (item) =>
    new Promise<void>((resolve, reject) => {
      queue.push({ item, resolve, reject });
      if (!writing) void drain();
    });
}

async function dialReservedCall(
  deps: PlaceCallDeps,
  call: ReservedCall,
  { began, beganAt, recordSid }: { began: BeganDial; beganAt: number; recordSid: (placed: { id: string; sid: string }) => Promise<void> },
): Promise<DialOutcome> {
  if (began.result === 'do-not-call') {
    await withdrawForDoNotCall(deps.database.pool, call.callId);
    return { kind: 'do-not-call', message: 'the number was put on a do-not-call list before it was dialed' };
  }
  if (began.result === 'stopped') {
    await withdrawReservation(deps.database.pool, call.callId);
    return { kind: 'not-sent', message: 'the run stopped dialing before this call was placed' };
  }
  // The dial bound, checked right before the request: a worker that stalled (GC, a frozen VM, a
  // slow pool) past it sends nothing, since reconciliation may by now have withdrawn the
  // reservation and queued its job again (see withdrawableAfterSeconds).
  const sinceStampMs = performance.now() - beganAt;
  if (sinceStampMs > DIAL_SEND_BOUND_SECONDS * 1000) {
    await withdrawReservation(deps.database.pool, call.callId);
    return {
      kind: 'not-sent',
      message: `not sent: ${Math.round(sinceStampMs)} ms passed since the dial began at ${began.dialedAt.toISOString()}, past the ${DIAL_SEND_BOUND_SECONDS} s bound`,
    };
  }
  let sid: string;
  try {
    // The pacing place frees a window after the carrier's answer, whatever it was (see carrier-sends.ts);
    // if that stamp cannot be written, the place just counts longer.
    const created = await timeCarrierRequest('create', () =>
      deps.telephony.calls.create({
        to: call.to,
        from: call.from,
        ...voiceParams(call.instructions.voiceApp, call.instructions.variables),
        ...amdParams(call.instructions.machineDetection, call.amdCallbackUrl),
        statusCallback: call.statusCallbackUrl,
        statusCallbackMethod: 'POST',
        statusCallbackEvent: statusCallbackEvents(deps.config.twilio.ringingCallbacks),
      }),
    ).finally(() => (call.paced ? stampCarrierAnswer(deps.database.pool, call.callId).catch(() => undefined) : undefined));
    sid = created.sid;
  } catch (raw) {
    const err = raw as CarrierError;
    const message = err.message ?? String(raw);
    if (err.status === 429 || (typeof err.code === 'string' && NOT_CONNECTED.has(err.code))) {
      await withdrawReservation(deps.database.pool, call.callId);
      return { kind: 'not-sent', message };
    }
    const errorCode = typeof err.code === 'number' ? err.code : null;
    if (err.status === 401 || err.status === 403 || (errorCode !== null && ACCOUNT_LEVEL_CODES.has(errorCode))) {
      await withdrawReservation(deps.database.pool, call.callId);
      return { kind: 'account-refused', errorCode, message };
    }
    if (typeof err.status === 'number' && err.status >= 400 && err.status < 500) {
      const freed = await applyCallStatus(deps.database, {
        callId: call.callId,
        status: 'failed',
        errorCode,
        errorMessage: message,
        permanent: true,
      });
      return { kind: 'rejected', errorCode, message, freed };
    }
    // Asked about within seconds, not after a whole quiet period: the slot may be held for nothing.
    await recordUnknownOutcome(deps.database.pool, call.callId, message, {
      firstCheckSeconds: checkDelaySeconds(deps.config, true, 0),
      requestTimeoutSeconds: deps.config.twilio.requestTimeoutMs / 1000,
      afterDialSeconds: withdrawableAfterSeconds(deps.config),
    });
    return { kind: 'unknown', message };
  }
  await recordSid({ id: call.callId, sid });
  return { kind: 'placed', callSid: sid };
}
