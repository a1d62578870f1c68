import { placeReservedCall } from '../../calls/place-call';
import { reconcileStaleCalls } from '../../calls/reconcile';
import { findCall } from '../../db/queries/calls';
import { resolvePublicHost } from '../../public-host';
import { reserveDirectCall, type DirectCallRequest } from '../../claim/direct';
import { pacingOf, type BusinessSlots } from '../../claim/slots';
import type { DomainDeps } from '../deps';
import { PACING_WINDOW_MS } from '../../db/queries/carrier-sends';
import { claimOrReplay, recordResult, releaseKey, type IdempotencyKey } from '../idempotency';

const MAX_PACED_WAITS = 5;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
import { callView, type CallView } from './call-view';

export interface DirectCallCommand extends DirectCallRequest {
  businessId: string;
  idempotency?: IdempotencyKey;
}

/**
 * What became of a direct call, with the why beside it:
 * - `placed`: the carrier took it; `pending`: the outcome is unknown (timeout, 5xx), the slot stays
 *   held and its callbacks or reconciliation settle it;
 * - `rejected` / `account-refused`: the carrier refused the number, or the account or caller ID;
 * - `not-sent`: the carrier certainly created nothing (429, unreachable): safe to retry;
 * - `at-limit`: every slot of the business is taken; `no-public-host`: no callback could reach us;
 * - `do-not-call`: the number is on the business's or the global list; nothing was dialed;
 * - `caller-id-not-owned`: the caller ID asked for is not one of the business's;
 * - `paced`: the carrier account's calls per second stayed used up for a few seconds (a burst of
 *   runs and direct calls): nothing was placed; retry after a second.
 */
export type DirectCallResult =
  | { kind: 'placed' | 'pending'; call: CallView }
  | { kind: 'rejected'; callId: string; errorCode: number | null; message: string }
  | { kind: 'account-refused'; errorCode: number | null; message: string }
  | { kind: 'not-sent'; message: string }
  | { kind: 'at-limit'; slots: BusinessSlots }
  | { kind: 'paced' }
  | { kind: 'business-not-found' }
  | { kind: 'do-not-call' }
  | { kind: 'caller-id-not-owned'; callerIds: string[] }
  | { kind: 'no-public-host'; message: string };

/**
 * A direct one-off call under the business's limit (the same slots as its runs). With an
 * idempotency key, the reservation commits with a provisional result (`pending`) that the dial's
 * outcome then replaces; a dial that certainly placed nothing forgets the key, so a retry dials.
 */
export async function placeDirectCall(deps: DomainDeps, command: DirectCallCommand): Promise<DirectCallResult> {
  const host = resolvePublicHost(deps.config);
  if (!host.ok) return { kind: 'no-public-host', message: host.error };
  const { businessId, idempotency, ...request } = command;
  const { to } = request;

  let replay: DirectCallResult | undefined;
  const reserve = () =>
    reserveDirectCall(deps.database, businessId, request, host.baseUrl, {
      before: async (client) => {
        const replayed = await claimOrReplay<DirectCallResult>(client, idempotency);
        if (replayed) replay = replayed.replay;
        return replayed !== null;
      },
      after: async (client, _call, reserved) => {
        await recordResult(client, idempotency, { kind: 'pending', call: callView(reserved) } satisfies DirectCallResult);
      },
    }, pacingOf(deps.config));

  /** At the account's pace the next place frees within about a second: wait for it, a few times. */
  const reserveWithinPace = async () => {
    for (let attempt = 1; ; attempt++) {
      const reserved = await reserve();
      if (replay || reserved.ok || reserved.reason !== 'paced' || attempt >= MAX_PACED_WAITS) return reserved;
      await sleep(Math.min(PACING_WINDOW_MS, Math.max(10, (reserved.nextFreeAt?.getTime() ?? 0) - Date.now())));
    }
  };

  let reservation = await reserveWithinPace();
  if (replay) return replay;
  if (!reservation.ok && reservation.reason === 'at-limit') {
    // A slot held only by a call whose end we never heard of is not a reason to refuse: ask the carrier.
    const reconciled = await reconcileStaleCalls(deps, businessId);
    if (reconciled.freed > 0) {
      await deps.wakeRuns(businessId, { slots: reconciled.freed });
      reservation = await reserveWithinPace();
      if (replay) return replay;
    }
  }
  if (!reservation.ok) {
    if (reservation.reason === 'at-limit') return { kind: 'at-limit', slots: reservation.slots };
    if (reservation.reason === 'business-not-found' || reservation.reason === 'do-not-call') return { kind: reservation.reason };
    if (reservation.reason === 'caller-id-not-owned') return { kind: 'caller-id-not-owned', callerIds: reservation.callerIds };
    if (reservation.reason === 'paced') return { kind: 'paced' };
    throw new Error('a reservation stopped without a replay');
  }

  const { callId } = reservation.call;
  const outcome = await placeReservedCall(deps, reservation.call, 'direct');
  let result: DirectCallResult;
  switch (outcome.kind) {
    case 'placed':
    case 'unknown':
      result = { kind: outcome.kind === 'placed' ? 'placed' : 'pending', call: callView((await findCall(deps.database.pool, callId))!) };
      if (outcome.kind === 'placed') deps.logger.info({ businessId, callId, callSid: outcome.callSid, to }, 'direct call started');
      break;
    case 'rejected':
      await deps.wakeRuns(businessId, { slots: 1 });
      result = { kind: 'rejected', callId, errorCode: outcome.errorCode, message: outcome.message };
      break;
    case 'account-refused':
      result = { kind: 'account-refused', errorCode: outcome.errorCode, message: outcome.message };
      break;
    case 'not-sent':
      result = { kind: 'not-sent', message: outcome.message };
      break;
    case 'do-not-call':
      // Listed between the reservation and the dial: refused like a listed number, and final.
      result = { kind: 'do-not-call' };
      break;
  }
  if (result.kind === 'not-sent' || result.kind === 'account-refused') await releaseKey(deps.database, idempotency);
  else await recordResult(deps.database.pool, idempotency, result);
  return result;
}
