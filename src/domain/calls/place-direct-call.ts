import { placeReservedCall } from '../../calls/place-call';
import { reconcileStaleCalls } from '../../calls/reconcile';
import { findCall } from '../../db/queries/calls';
import { resolvePublicHost } from '../../public-host';
import { reserveDirectCall, type BusinessSlots } from '../../slots';
import type { DomainDeps } from '../deps';
import { claimOrReplay, recordResult, releaseKey, type IdempotencyKey } from '../idempotency';
import { callView, type CallView } from './call-view';

export interface DirectCallCommand {
  businessId: string;
  to: string;
  idempotency?: IdempotencyKey;
}

/**
 * What became of a direct call, with the why beside it:
 * - `placed`: the carrier took it; `pending`: the outcome is unknown (timeout, 5xx), the slot stays
 *   held and its callbacks or reconciliation settle it;
 * - `rejected` / `account-refused`: the carrier refused the number, or the account or caller ID;
 * - `not-sent`: the carrier certainly created nothing (429, unreachable): safe to retry;
 * - `at-limit`: every slot of the business is taken; `no-public-host`: no callback could reach us.
 */
export type DirectCallResult =
  | { kind: 'placed' | 'pending'; call: CallView }
  | { kind: 'rejected'; callId: string; errorCode: number | null; message: string }
  | { kind: 'account-refused'; errorCode: number | null; message: string }
  | { kind: 'not-sent'; message: string }
  | { kind: 'at-limit'; slots: BusinessSlots }
  | { kind: 'business-not-found' }
  | { kind: 'no-public-host'; message: string };

/**
 * A direct one-off call under the business's limit (the same slots as its runs). With an
 * idempotency key, the reservation commits with a provisional result (`pending`) that the dial's
 * outcome then replaces; a dial that certainly placed nothing forgets the key, so a retry dials.
 */
export async function placeDirectCall(deps: DomainDeps, command: DirectCallCommand): Promise<DirectCallResult> {
  const host = resolvePublicHost(deps.config);
  if (!host.ok) return { kind: 'no-public-host', message: host.error };
  const { businessId, to, idempotency } = command;

  let replay: DirectCallResult | undefined;
  const reserve = () =>
    reserveDirectCall(deps.database, businessId, to, host.baseUrl, {
      before: async (client) => {
        const replayed = await claimOrReplay<DirectCallResult>(client, idempotency);
        if (replayed) replay = replayed.replay;
        return replayed !== null;
      },
      after: async (client, call) => {
        const reserved = await findCall(client, call.callId);
        await recordResult(client, idempotency, { kind: 'pending', call: callView(reserved!) } satisfies DirectCallResult);
      },
    });

  let reservation = await reserve();
  if (replay) return replay;
  if (!reservation.ok && reservation.reason === 'at-limit') {
    // A slot held only by a call whose end we never heard of is not a reason to refuse: ask the carrier.
    const reconciled = await reconcileStaleCalls(deps, businessId, deps.config.reconcileAfterSeconds);
    if (reconciled.freed > 0) {
      await deps.wakeRuns(businessId);
      reservation = await reserve();
      if (replay) return replay;
    }
  }
  if (!reservation.ok) {
    if (reservation.reason === 'at-limit') return { kind: 'at-limit', slots: reservation.slots };
    if (reservation.reason === 'business-not-found') return { kind: 'business-not-found' };
    throw new Error('a reservation stopped without a replay');
  }

  const { callId } = reservation.call;
  const outcome = await placeReservedCall(deps, reservation.call);
  let result: DirectCallResult;
  switch (outcome.kind) {
    case 'placed':
    case 'unknown':
      result = { kind: outcome.kind === 'placed' ? 'placed' : 'pending', call: callView((await findCall(deps.database.pool, callId))!) };
      if (outcome.kind === 'placed') deps.logger.info({ businessId, callId, callSid: outcome.callSid, to }, 'direct call started');
      break;
    case 'rejected':
      await deps.wakeRuns(businessId);
      result = { kind: 'rejected', callId, errorCode: outcome.errorCode, message: outcome.message };
      break;
    case 'account-refused':
      result = { kind: 'account-refused', errorCode: outcome.errorCode, message: outcome.message };
      break;
    case 'not-sent':
      result = { kind: 'not-sent', message: outcome.message };
      break;
  }
  if (result.kind === 'not-sent' || result.kind === 'account-refused') await releaseKey(deps.database, idempotency);
  else await recordResult(deps.database.pool, idempotency, result);
  return result;
}
