import { inTransaction, Rollback } from '../../db/client';
import { notifyRunSlots } from '../../db/queries/businesses';
import { insertLeadsAndJobs, runListEnd, runListPhones } from '../../db/queries/jobs';
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
 * After the commit the run is woken: its dial session hears Postgres, a sleeping workflow a signal.
 */
export async function addLeads(deps: Pick<DomainDeps, 'database' | 'wakeRuns' | 'logger'>, command: AddLeadsCommand): Promise<AddLeadsResult> {
  const outcome = await inTransaction(deps.database, async (client): Promise<{ result: AddLeadsResult; fresh: boolean; businessId?: string }> => {
    const found = await findRun(client, command.runId);
    if (!found) return { result: { ok: false, reason: 'not-found' }, fresh: false };
    // Refused before the leads are read when it shows already; checked again under the lock at the end.
    if (!acceptsLeads(found)) return { result: refusal(found), fresh: false };
    await lockRunList(client, command.runId);
    const end = await runListEnd(client, command.runId);
    const merger = command.allowDuplicates ? null : duplicateMerger<LeadInput>(await runListPhones(client, command.runId));
    let added = 0;
    for await (const chunk of command.leads) {
      const leads = withZones(merger ? merger.keep(chunk) : chunk);
      if (leads.length === 0) continue;
      if (end.leads + added + leads.length > command.maxLeads) {
        throw new Rollback({ result: { ok: false, reason: 'too-many-leads', maxLeads: command.maxLeads, held: end.leads }, fresh: false });
      }
      await insertLeadsAndJobs(client, { id: command.runId, businessId: found.business_id }, leads, end.nextPosition + added);
      added += leads.length;
    }
    const merged = merger?.merged ?? 0;
    const run = await acceptAddedLeads(client, command.runId, merged);
    if (!run) {
      throw new Rollback({ result: refusal((await findRun(client, command.runId))!), fresh: false });
    }
    const idempotency = command.idempotency?.();
    const replayed = await claimOrReplay<AddLeadsResult>(client, idempotency);
    if (replayed) throw new Rollback({ result: replayed.replay, fresh: false });
    if (added > 0) await notifyRunSlots(client, run.business_id, run.id);
    const result: AddLeadsResult = { ok: true, run: await runView(client, run), added, duplicatesMerged: merged };
    await recordResult(client, idempotency, result);
    return { result, fresh: true, businessId: run.business_id };
  });
  const { result, fresh, businessId } = outcome;
  if (fresh && result.ok && result.added > 0 && businessId) {
    deps.logger.info({ runId: command.runId, added: result.added, duplicatesMerged: result.duplicatesMerged }, 'leads added to run');
    // Committed: a wake-up that fails now costs the run its fallback wait, not the leads.
    await deps.wakeRuns(businessId).catch((err: unknown) => deps.logger.warn({ runId: command.runId, err: String(err) }, 'leads added but the wake-up failed; the run dials them at its fallback timer'));
  }
  return result;
}
