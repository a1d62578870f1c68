import { randomUUID } from 'node:crypto';
import { inTransaction, Rollback } from '../../db/client';
import { findBusiness, ownedCallerIds } from '../../db/queries/businesses';
import type { CallingWindow, MachineDetection, RetryPolicy, VoiceApp } from '../../db/settings';
import { insertLeadsAndJobs, type NewLead } from '../../db/queries/jobs';
import { insertRun } from '../../db/queries/runs';
import { bulkCallRunWorkflowId } from '../../workflows/messages';
import type { DomainDeps } from '../deps';
import { claimOrReplay, recordResult, type IdempotencyKey } from '../idempotency';
import { runView, type RunView } from './run-view';
import { zonesOfNumbers } from './lead-time-zones';
import { startRunWorkflow } from './start-workflow';

/** A lead as the caller gives it: `timeZone` (IANA) names its zone; without it the number's zones are used. */
export type LeadInput = Omit<NewLead, 'timeZones'> & { timeZone?: string | undefined };

export interface CreateRunCommand {
  businessId: string;
  leads: LeadInput[];
  /** Keep every row even when a number repeats (by default a number is dialed once per run). */
  allowDuplicates?: boolean;
  /** Default: the business's voice app, at dial time. */
  voiceApp?: VoiceApp | undefined;
  /** One of the business's caller IDs; default: the business's default, at dial time. */
  callerId?: string | undefined;
  machineDetection?: MachineDetection | undefined;
  /** This run's own cap, at most the business's limit. */
  maxConcurrentCalls?: number | undefined;
  /** Default: the business's window, else 08:00–21:00 in each lead's zone. */
  callingWindow?: CallingWindow | undefined;
  startAt?: Date | undefined;
  stopAt?: Date | undefined;
  /** Retries by outcome; default none. */
  retries?: RetryPolicy | undefined;
  idempotency?: IdempotencyKey;
}

export type CreateRunResult =
  | { ok: true; run: RunView; duplicatesMerged: number }
  | { ok: false; reason: 'business-not-found' }
  | { ok: false; reason: 'caller-id-not-owned'; callerIds: string[] }
  | { ok: false; reason: 'cap-above-limit'; limit: number };

/** One dial per number: later rows with a number already listed are merged into the first (its name is kept). */
export function mergeDuplicateNumbers<T extends { phone: string }>(leads: T[]): { leads: T[]; merged: number } {
  const seen = new Set<string>();
  const kept = leads.filter((lead) => !seen.has(lead.phone) && (seen.add(lead.phone), true));
  return { leads: kept, merged: leads.length - kept.length };
}

/**
 * Creates a run: the run, its leads and their jobs commit together (with the idempotency record),
 * then its workflow is started. A start that fails (Temporal unreachable, the process dies) leaves
 * the run `pending`; the sweep starts it (`startStalledRuns`), so a committed run always runs.
 */
export async function createRun(deps: DomainDeps, command: CreateRunCommand): Promise<CreateRunResult> {
  const { leads: given, merged } = command.allowDuplicates ? { leads: command.leads, merged: 0 } : mergeDuplicateNumbers(command.leads);
  // Resolved before the transaction: it reads metadata files, and holds no lock meanwhile.
  const numberZones = await zonesOfNumbers(given.filter((lead) => !lead.timeZone).map((lead) => lead.phone));
  let unnamed = 0;
  const leads: NewLead[] = given.map(({ timeZone, ...lead }) => ({ ...lead, timeZones: timeZone ? [timeZone] : numberZones[unnamed++] ?? null }));
  const runId = randomUUID();
  const workflowId = bulkCallRunWorkflowId(runId);
  const { result, fresh } = await inTransaction(deps.database, async (client): Promise<{ result: CreateRunResult; fresh: boolean }> => {
    const business = await findBusiness(client, command.businessId);
    if (!business) return { result: { ok: false, reason: 'business-not-found' }, fresh: false };
    const replayed = await claimOrReplay<CreateRunResult>(client, command.idempotency);
    if (replayed) return { result: replayed.replay, fresh: false };
    // Refusals roll back, the idempotency claim with them: a refused request leaves no row.
    const refuse = (result: CreateRunResult) => new Rollback({ result, fresh: false });
    const owned = ownedCallerIds(business);
    if (command.callerId !== undefined && !owned.includes(command.callerId)) throw refuse({ ok: false, reason: 'caller-id-not-owned', callerIds: owned });
    if (command.maxConcurrentCalls !== undefined && command.maxConcurrentCalls > business.max_concurrent_calls) {
      throw refuse({ ok: false, reason: 'cap-above-limit', limit: business.max_concurrent_calls });
    }
    const run = await insertRun(client, {
      id: runId,
      businessId: command.businessId,
      workflowId,
      duplicatesMerged: merged,
      voiceApp: command.voiceApp ?? null,
      callerId: command.callerId ?? null,
      machineDetection: command.machineDetection ?? null,
      maxConcurrentCalls: command.maxConcurrentCalls ?? null,
      callingWindow: command.callingWindow ?? null,
      startAt: command.startAt ?? null,
      stopAt: command.stopAt ?? null,
      retryPolicy: command.retries ?? null,
    });
    await insertLeadsAndJobs(
      client,
      runId,
      command.businessId,
      // Ascending, so the leads' and jobs' indexes and the jobs' foreign-key checks go in order (about 10% less work in Postgres).
      leads.map(() => randomUUID()).sort(),
      leads,
    );
    const created: CreateRunResult = { ok: true, run: await runView(client, run), duplicatesMerged: merged };
    await recordResult(client, command.idempotency, created);
    return { result: created, fresh: true };
  });
  if (!fresh) return result;
  const start = await startRunWorkflow(deps, { id: runId, businessId: command.businessId, workflowId });
  if (!start.started && !start.alreadyStarted) {
    deps.logger.warn({ runId, err: start.error }, 'run committed but its workflow did not start; the sweep will start it');
  } else {
    deps.logger.info({ runId, businessId: command.businessId, leads: leads.length, duplicatesMerged: merged, workflowId }, 'run created');
  }
  return result;
}
