import { applyCallStatus, type AppliedStatus } from '../../calls/apply-status';
import { Rollback } from '../../db/client';
import { endedCallWake } from '../../calls/wake-runs';
import { insertCallRelease, type CallReleaseRow } from '../../db/queries/call-releases';
import { findCall, heldCallRows, isHeldCallRow, type CallRow } from '../../db/queries/calls';
import type { DomainDeps } from '../deps';
import type { Principal } from '../principal';
import { callView, type CallView } from './call-view';

/**
 * Calls held for an operator: active calls whose slot reconciliation will not free on its own,
 * because the carrier answers 404 for their SID (they may still be live under other credentials) or
 * because HELD_CALL_AFTER_CHECKS checks in a row learned nothing (the carrier unreachable, no call
 * found; a carrier that says the call is live is news enough). An operator who has confirmed a
 * call is gone releases it: the call ends, the release is audited, and the slot is free.
 */

export interface HeldCallView {
  call: CallView;
  /** `carrier-unknown`: the carrier answered 404 for the SID; `no-news`: `checks` checks in a row learned nothing from the carrier. */
  heldBecause: 'carrier-unknown' | 'no-news';
  checks: number;
  carrierUnknownAt: string | null;
  nextCheckAt: string | null;
}

/** At most this many held calls are listed, the oldest first (a long list means an outage to fix, not a page to read). */
export const HELD_CALLS_LIMIT = 500;

export async function listHeldCalls(deps: Pick<DomainDeps, 'database' | 'config'>): Promise<HeldCallView[]> {
  const rows = await heldCallRows(deps.database.pool, deps.config.heldCallAfterChecks, HELD_CALLS_LIMIT);
  return rows.map(heldCallView);
}

function heldCallView(row: CallRow): HeldCallView {
  return {
    call: callView(row),
    heldBecause: row.carrier_unknown_at ? 'carrier-unknown' : 'no-news',
    checks: row.uncertain_checks,
    carrierUnknownAt: row.carrier_unknown_at?.toISOString() ?? null,
    nextCheckAt: row.next_check_at?.toISOString() ?? null,
  };
}

export interface ReleaseView {
  id: string;
  callId: string;
  releasedBy: string;
  reason: string;
  status: 'failed' | 'canceled';
  releasedAt: string;
}

export type ReleaseResult = { kind: 'released'; call: CallView; release: ReleaseView } | { kind: 'not-found' } | { kind: 'not-held' };

export async function releaseHeldCall(
  deps: Pick<DomainDeps, 'database' | 'wakeRuns'> & { config: Pick<DomainDeps['config'], 'heldCallAfterChecks'> },
  request: { callId: string; principal: Principal; reason: string; status: 'failed' | 'canceled' },
): Promise<ReleaseResult> {
  const found = await findCall(deps.database.pool, request.callId);
  if (!found) return { kind: 'not-found' };
  let release: CallReleaseRow | null = null;
  // Never retried: the carrier may have dialed the lead, so another attempt could call it twice.
  const applied = await applyCallStatus(
    deps.database,
    { callId: request.callId, status: request.status, errorMessage: `released by an operator: ${request.reason}`, permanent: true },
    async (client, call) => {
      // Decided with the call's row locked: a check that found the call live since it was listed
      // keeps its slot taken (releasing a live call would let the business go over its limit).
      if (!isHeldCallRow(call, deps.config.heldCallAfterChecks)) throw new Rollback<AppliedStatus>({ result: 'unchanged', callId: call.id, status: call.status });
      release = await insertCallRelease(client, { callId: request.callId, releasedBy: request.principal.id, reason: request.reason, status: request.status });
    },
  );
  // Ended meanwhile (a callback), or no longer held: nothing to release.
  if (applied.result !== 'applied' || !release) return { kind: 'not-held' };
  if (applied.freedSlot) await deps.wakeRuns(applied.businessId, endedCallWake(applied));
  const ended = await findCall(deps.database.pool, request.callId);
  return { kind: 'released', call: callView(ended!), release: releaseView(release) };
}

function releaseView(row: CallReleaseRow): ReleaseView {
  return { id: row.id, callId: row.call_id, releasedBy: row.released_by, reason: row.reason, status: row.status, releasedAt: row.released_at.toISOString() };
}
