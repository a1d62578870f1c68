import { randomUUID } from 'node:crypto';
import { inTransaction, Rollback } from '../../db/client';
import { findBusiness, ownedCallerIds } from '../../db/queries/businesses';
import type { CallingWindow, MachineDetection, RetryPolicy, VoiceApp } from '../../db/settings';
import { insertLeadsAndJobs, type NewLead } from '../../db/queries/jobs';
import { insertRun, setDuplicatesMerged } from '../../db/queries/runs';
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
  /**
   * The leads, a chunk at a time, each chunk written as it comes while the next is still being read
   * (a CSV upload is parsed as it streams in). A source that throws rolls the whole run back.
   */
  leads: AsyncIterable<LeadInput[]>;
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
  /** Wait for more leads once these are done, until closed (or stopAt); default: complete. */
  keepOpen?: boolean | undefined;
  /** Asked for once the leads are read: a streamed body's hash is known only at its end. */
  idempotency?: (() => IdempotencyKey) | undefined;
}

export type CreateRunResult =
  | { ok: true; run: RunView; duplicatesMerged: number }
  | { ok: false; reason: 'business-not-found' }
  | { ok: false; reason: 'caller-id-not-owned'; callerIds: string[] }
  | { ok: false; reason: 'cap-above-limit'; limit: number };

/** A list given whole, as the one chunk of a lead source. */
export async function* oneChunk<T>(leads: T[]): AsyncGenerator<T[]> {
  yield leads;
}

/**
 * One dial per number, chunk after chunk: later rows with a number already seen (or `already` in the
 * list) are merged into the first (its name is kept); `merged` counts them.
 */
export function duplicateMerger<T extends { phone: string }>(already: Iterable<string> = []) {
  const seen = new Set<string>(already);
  const merger = {
    merged: 0,
    keep(leads: T[]): T[] {
      const kept = leads.filter((lead) => !seen.has(lead.phone) && (seen.add(lead.phone), true));
      merger.merged += leads.length - kept.length;
      return kept;
    },
  };
  return merger;
}

/** A chunk's leads with their zones: a lead's own, else its number's (looked up for the chunk in one batch). */
export function withZones(given: LeadInput[]): NewLead[] {
  const numberZones = zonesOfNumbers(given.filter((lead) => !lead.timeZone).map((lead) => lead.phone));
  let unnamed = 0;
  return given.map(({ timeZone, ...lead }) => ({ ...lead, timeZones: timeZone ? [timeZone] : numberZones[unnamed++] ?? null }));
}

/**
 * Creates a run: the run, its leads and their jobs commit together (with the idempotency record),
 * then its workflow is started. A start that fails (Temporal unreachable, the process dies) leaves
 * the run `pending`; the sweep starts it (`startStalledRuns`), so a committed run always runs.
 *
 * The leads are written as they come, so the transaction is open while a streamed list is read. The
 * idempotency key is claimed last, when the request's hash is known: a key an earlier request
 * committed rolls this one's writes back and replays that answer (or refuses another request); a
 * request with the same key still in flight makes the claim wait until it commits or aborts.
 */
export async function createRun(deps: DomainDeps, command: CreateRunCommand): Promise<CreateRunResult> {
  const runId = randomUUID();
  const workflowId = bulkCallRunWorkflowId(runId);
  let leadCount = 0;
  let merged = 0;
  const { result, fresh } = await inTransaction(deps.database, async (client): Promise<{ result: CreateRunResult; fresh: boolean }> => {
    const business = await findBusiness(client, command.businessId);
    if (!business) return { result: { ok: false, reason: 'business-not-found' }, fresh: false };
    // Refused before anything is written (and before the leads are read).
    const owned = ownedCallerIds(business);
    if (command.callerId !== undefined && !owned.includes(command.callerId)) return { result: { ok: false, reason: 'caller-id-not-owned', callerIds: owned }, fresh: false };
    if (command.maxConcurrentCalls !== undefined && command.maxConcurrentCalls > business.max_concurrent_calls) {
      return { result: { ok: false, reason: 'cap-above-limit', limit: business.max_concurrent_calls }, fresh: false };
    }
    let run = await insertRun(client, {
      id: runId,
      businessId: command.businessId,
      workflowId,
      duplicatesMerged: 0,
      voiceApp: command.voiceApp ?? null,
      callerId: command.callerId ?? null,
      machineDetection: command.machineDetection ?? null,
      maxConcurrentCalls: command.maxConcurrentCalls ?? null,
      callingWindow: command.callingWindow ?? null,
      startAt: command.startAt ?? null,
      stopAt: command.stopAt ?? null,
      retryPolicy: command.retries ?? null,
      keepOpen: command.keepOpen ?? false,
    });
    const merger = command.allowDuplicates ? null : duplicateMerger<LeadInput>();
    for await (const chunk of command.leads) {
      const leads = withZones(merger ? merger.keep(chunk) : chunk);
      if (leads.length === 0) continue;
      await insertLeadsAndJobs(client, { id: runId, businessId: command.businessId }, leads, leadCount);
      leadCount += leads.length;
    }
    merged = merger?.merged ?? 0;
    if (merged > 0) run = await setDuplicatesMerged(client, runId, merged);
    const idempotency = command.idempotency?.();
    const replayed = await claimOrReplay<CreateRunResult>(client, idempotency);
    // Undoes this request's writes: the key's first request made the run.
    if (replayed) throw new Rollback({ result: replayed.replay, fresh: false });
    const created: CreateRunResult = { ok: true, run: await runView(client, run), duplicatesMerged: merged };
    await recordResult(client, idempotency, created);
    return { result: created, fresh: true };
  });
  if (!fresh) return result;
  const start = await startRunWorkflow(deps, { id: runId, businessId: command.businessId, workflowId });
  if (!start.started && !start.alreadyStarted) {
    deps.logger.warn({ runId, err: start.error }, 'run committed but its workflow did not start; the sweep will start it');
  } else {
    deps.logger.info({ runId, businessId: command.businessId, leads: leadCount, duplicatesMerged: merged, workflowId }, 'run created');
  }
  return result;
}
