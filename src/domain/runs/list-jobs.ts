import { callsOfLeads, type CallRow } from '../../db/queries/calls';
import { listLeadJobRows, type LeadJobRow } from '../../db/queries/jobs';
import { findRun } from '../../db/queries/runs';
import type { Executor } from '../../db/queries/executor';
import type { LeadVariables } from '../../db/settings';
import type { CallStatus, JobStatus } from '../../db/statuses';
import type { DomainDeps } from '../deps';
import { pageRows, type Page, type PositionKey } from '../pagination';

/** One call made for a lead (a retry is a further attempt, with its own call). */
export interface AttemptView {
  callId: string;
  attempt: number;
  status: CallRow['status'];
  answeredBy: CallRow['answered_by'];
  durationSeconds: number | null;
  errorCode: number | null;
  errorMessage: string | null;
  createdAt: string;
  endedAt: string | null;
}

/** A lead of a run as its latest attempt stands, with every call made for it. */
export interface JobView {
  jobId: string;
  leadId: string;
  phone: string;
  name: string | null;
  variables: LeadVariables;
  status: JobStatus;
  outcome: CallStatus | null;
  /** A queued lead is not dialed before this: its retry's due time, or its callAt (null: as soon as its turn and window come). */
  dueAt: string | null;
  attempts: AttemptView[];
}

export interface JobFilter {
  /** Of the lead's latest attempt; null = any. */
  statuses: readonly JobStatus[] | null;
  outcomes: readonly CallStatus[] | null;
}

/** A lead's latest job row (with its error, which a lead never dialed has too) and its calls. */
export interface LeadResult {
  job: LeadJobRow;
  attempts: AttemptView[];
}

function attemptView(row: CallRow & { attempt: number }): AttemptView {
  return {
    callId: row.id,
    attempt: row.attempt,
    status: row.status,
    answeredBy: row.answered_by,
    durationSeconds: row.duration_seconds,
    errorCode: row.error_code,
    errorMessage: row.last_error,
    createdAt: row.created_at.toISOString(),
    endedAt: row.ended_at?.toISOString() ?? null,
  };
}

export function jobView({ job, attempts }: LeadResult): JobView {
  return {
    jobId: job.id,
    leadId: job.lead_id,
    phone: job.phone,
    name: job.name,
    variables: job.variables ?? {},
    status: job.status,
    outcome: job.outcome,
    dueAt: job.status === 'queued' ? (job.not_before?.toISOString() ?? null) : null,
    attempts,
  };
}

/** Up to `limit` leads after `afterPosition`, with their calls (two queries, whatever the page size). */
async function leadResults(db: Executor, runId: string, filter: JobFilter, afterPosition: number | null, limit: number): Promise<LeadResult[]> {
  const jobs = await listLeadJobRows(db, runId, { ...filter, afterPosition, limit });
  const calls = await callsOfLeads(db, runId, jobs.map((j) => j.lead_id));
  const byLead = new Map<string, AttemptView[]>();
  for (const call of calls) byLead.set(call.lead_id, [...(byLead.get(call.lead_id) ?? []), attemptView(call)]);
  return jobs.map((job) => ({ job, attempts: byLead.get(job.lead_id) ?? [] }));
}

/** The business a run belongs to, or null when there is no such run. */
export async function runBusinessId(deps: Pick<DomainDeps, 'database'>, runId: string): Promise<string | null> {
  return (await findRun(deps.database.pool, runId))?.business_id ?? null;
}

/** A run's leads in lead order, a page at a time. */
export async function listRunJobs(
  deps: Pick<DomainDeps, 'database'>,
  runId: string,
  page: JobFilter & { after: PositionKey | null; limit: number },
): Promise<Page<JobView>> {
  const results = await leadResults(deps.database.pool, runId, page, page.after?.position ?? null, page.limit + 1);
  const { rows, nextCursor } = pageRows(results, page.limit, (r): PositionKey => ({ position: r.job.position }));
  return { data: rows.map(jobView), nextCursor };
}

/** Every lead of a run in lead order, read `batchSize` at a time: never the whole run in memory. */
export async function* eachLeadResult(deps: Pick<DomainDeps, 'database'>, runId: string, batchSize: number): AsyncGenerator<LeadResult> {
  let after: number | null = null;
  for (;;) {
    const batch = await leadResults(deps.database.pool, runId, { statuses: null, outcomes: null }, after, batchSize);
    yield* batch;
    if (batch.length < batchSize) return;
    after = batch.at(-1)!.job.position;
  }
}
