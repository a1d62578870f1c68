import { runVariableKeys } from '../../db/queries/jobs';
import type { DomainDeps } from '../deps';
import { eachLeadResult } from './list-jobs';

/** The fixed columns of a run's results, one row per lead; then one column per variable key of the run. */
export const RESULT_COLUMNS = [
  'lead_id',
  'phone',
  'name',
  'status',
  'outcome',
  'attempts',
  'duration_seconds',
  'answered_by',
  'error_code',
  'error_message',
  'last_call_at',
] as const;

/** Leads read per query: a 100,000-lead run is streamed 500 at a time, never held whole. */
export const RESULTS_BATCH_SIZE = 500;

type Cell = string | number | null;

/**
 * GET /v1/runs/:id/results.csv: the header (read now, so a failure here is an ordinary error), and
 * the rows, read as they are pulled, each lead as its latest attempt stands: the call fields are its
 * last call's (empty when it was never dialed); the error is the lead's (a skipped or expired lead
 * has one without a call), else its last call's.
 */
export async function runResults(
  deps: Pick<DomainDeps, 'database'>,
  runId: string,
  batchSize = RESULTS_BATCH_SIZE,
): Promise<{ header: string[]; rows: AsyncGenerator<Cell[]> }> {
  const keys = await runVariableKeys(deps.database.pool, runId);
  async function* rows(): AsyncGenerator<Cell[]> {
    for await (const { job, attempts } of eachLeadResult(deps, runId, batchSize)) {
      const last = attempts.at(-1);
      yield [
        job.lead_id,
        job.phone,
        job.name,
        job.status,
        job.outcome,
        attempts.length,
        last?.durationSeconds ?? null,
        last?.answeredBy ?? null,
        job.error_code ?? last?.errorCode ?? null,
        job.last_error ?? last?.errorMessage ?? null,
        last?.createdAt ?? null,
        ...keys.map((key) => job.variables?.[key] ?? null),
      ];
    }
  }
  return { header: [...RESULT_COLUMNS, ...keys], rows: rows() };
}
