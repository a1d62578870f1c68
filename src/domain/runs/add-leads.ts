import { inTransaction, Rollback } from '../../db/client';
import { insertLeadsAndJobs, runListEnd, runListPhones } from '../../db/queries/jobs';
import { recordRunEvent } from '../../db/queries/events';
import { acceptAddedLeads, findRun, lockRunList, type RunRow } from '../../db/queries/runs';
import { LEAD_ACCEPTING_RUN_STATUSES, type RunStatus } from '../../db/statuses';
import type { DomainDeps } from '../deps';
import { claimOrReplay, recordResult, type IdempotencyKey } from '../idempotency';
import { duplicateMerger, withZones, type LeadInput } from './create-run';
import { runView, type RunView } from './run-view';

const acceptingStatus = (run: RunRow) => (LEAD_ACCEPTING_RUN_STATUSES as readonly RunStatus[]).includes(run.status);
const acceptsLeads = (run: RunRow) => acceptingStatus(run) && (run.stop_at === null || run.stop_at.getTime() > Date.now());
/** Why the run refuses leads: its status, or (`pastStopAt`) its stopAt. */
const refusal = (run: RunRow): AddLeadsResult => ({ ok: false, reason: 'not-accepting', status: run.status, pastStopAt: acceptingStatus(run) ? run.stop_at : null });

export interface AddLeadsCommand {
  runId: string;
  /** A chunk at a time, as for a new run; a source that throws adds nothing. */
  leads: AsyncIterable<LeadInput[]>;
  /** Keep rows whose number the run already holds (or that repeat here); by default each number is dialed once per run. */
  allowDuplicates?: boolean;
  /** The most leads the run may hold, those it has included. */
  maxLeads: number;
  idempotency?: (() => IdempotencyKey) | undefined;
}

export type AddLeadsResult =
  | { ok: true; run: RunView; added: number; duplicatesMerged: number }
  | { ok: false; reason: 'not-found' }
  /** The run has begun to end (finishing, canceling, or final), or its stopAt (`pastStopAt`) has passed. */
  | { ok: false; reason: 'not-accepting'; status: RunStatus; pastStopAt: Date | null }
  | { ok: false; reason: 'too-many-leads'; maxLeads: number; held: number };

/**
 * Adds leads to a run that has not begun to end: dialed after the leads it holds, under the same
 * settings, merged by number with those it holds unless duplicates are allowed. The leads commit
 * together (with the idempotency record) or not at all; the run's row is locked only at the end,
 * so claims go on while a long list is written. A run that finished, or began to, refuses them:
 * its finish and this commit are ordered by that lock (`acceptAddedLeads`, `completeRunIfDone`).
 * After the commit the run is woken by signal, also when it may dial none of them yet (its next
 * opening may be sooner). A dial session of the run needs no word: it waits only while slots hold
 * it back, and new leads free none.
 */
export async function addLeads(deps: Pick<DomainDeps, 'database' | 'wakeRuns' | 'logger'>, command: AddLeadsCommand): Promise<AddLeadsResult> {
  const outcome = await inTransaction(deps.database, async (client): Promise<{ result: AddLeadsResult; fresh: boolean; businessId?: string }> => {
    const found = await findRun(client, command.runId);
    if (!found) return { result: { ok: false, reason: 'not-found' }, fresh: false };
    // A request with an Idempotency-Key is refused only once its key is known not to have been
    // used: a retry of one that was accepted replays it, even after the run has ended.
    const keyed = command.idempotency !== undefined;
    // Refused before the leads are read when it shows already (a keyed request reads them, for its
    // key's hash, but writes none); checked again under the lock at the end.
    const refused = !acceptsLeads(found);
    if (refused && !keyed) return { result: refusal(found), fresh: false };
    await lockRunList(client, command.runId);
    const end = await runListEnd(client, command.runId);
    const merger = command.allowDuplicates ? null : duplicateMerger<LeadInput>(await runListPhones(client, command.runId));
    const tooMany: AddLeadsResult = { ok: false, reason: 'too-many-leads', maxLeads: command.maxLeads, held: end.leads };
    let added = 0;
    let over = false;
    for await (const chunk of command.leads) {
      const leads = withZones(merger ? merger.keep(chunk) : chunk);
      if (leads.length === 0 || over || refused) continue;
      if (end.leads + added + leads.length > command.maxLeads) {
        if (!keyed) throw new Rollback({ result: tooMany, fresh: false });
        // Read to its end all the same: the key is bound to the whole body.
        over = true;
        continue;
      }
      await insertLeadsAndJobs(client, { id: command.runId, businessId: found.business_id }, leads, end.nextPosition + added);
      added += leads.length;
    }
    const idempotency = command.idempotency?.();
    const replayed = await claimOrReplay<AddLeadsResult>(client, idempotency);
    if (replayed) throw new Rollback({ result: replayed.replay, fresh: false });
    if (refused) throw new Rollback({ result: refusal(found), fresh: false });
    if (over) throw new Rollback({ result: tooMany, fresh: false });
    const merged = merger?.merged ?? 0;
    // Counted before the run's row lock (it counts every job of the run; claims wait on that lock).
    const view = await runView(client, { ...found, duplicates_merged: found.duplicates_merged + merged });
    const run = await acceptAddedLeads(client, command.runId, merged);
    if (!run) throw new Rollback({ result: refusal((await findRun(client, command.runId))!), fresh: false });
    const result: AddLeadsResult = { ok: true, run: { ...view, status: run.status }, added, duplicatesMerged: merged };
    if (added > 0) await recordRunEvent(client, { businessId: run.business_id, runId: run.id, type: 'leads.added', data: { added, duplicatesMerged: merged } });
    await recordResult(client, idempotency, result);
    return { result, fresh: true, businessId: run.business_id };
  });
  const { result, fresh, businessId } = outcome;
  if (fresh && result.ok && result.added > 0 && businessId) {
    deps.logger.info({ runId: command.runId, added: result.added, duplicatesMerged: result.duplicatesMerged }, 'leads added to run');
    // Committed: a wake-up that fails now costs the run its fallback wait, not the leads.
    // Every spare slot, and the run itself when it may dial none of them now: it may be sleeping
    // until an opening later than one of the added leads'.
    await deps.wakeRuns(businessId, { changedRun: command.runId }).catch((err: unknown) => deps.logger.warn({ runId: command.runId, err: String(err) }, 'leads added but the wake-up failed; the run dials them at its fallback timer'));
  }
  return result;
}
