import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { stringify } from 'csv-stringify';
import { Router, type Response } from 'express';
import { z } from 'zod';
import { CALL_DIRECTIONS, CALL_STATUSES, JOB_STATUSES, RUN_STATUSES, TERMINAL_CALL_STATUSES } from '../../db/statuses';
import { listBusinesses } from '../../domain/businesses';
import { listCalls } from '../../domain/calls/list-calls';
import { positionKeyShape, timeKeyShape } from '../../domain/pagination';
import { listRunJobs, runBusinessId } from '../../domain/runs/list-jobs';
import { listRuns } from '../../domain/runs/list-runs';
import { runResults } from '../../domain/runs/results-csv';
import type { ApiDeps } from '../app';
import { authorizeBusiness, requireAdmin } from '../auth';
import { notFound } from '../errors';
import { instantField } from '../campaign-fields';
import { listParam, pageFields } from '../pagination';
import { parseId, parseOr400 } from '../validation';

/** The lists: businesses (admin), a business's runs and calls, a run's leads; cursor pagination (src/domain/pagination.ts). */

export const businessesQuery = z.object(pageFields(timeKeyShape)).strict();
export const runsQuery = z.object({ ...pageFields(timeKeyShape), status: listParam(RUN_STATUSES).optional() }).strict();
export const jobsQuery = z
  .object({ ...pageFields(positionKeyShape), status: listParam(JOB_STATUSES).optional(), outcome: listParam(TERMINAL_CALL_STATUSES).optional() })
  .strict();
export const callsQuery = z
  .object({
    ...pageFields(timeKeyShape),
    direction: z.enum(CALL_DIRECTIONS).optional(),
    status: listParam(CALL_STATUSES).optional(),
    since: instantField.optional(),
    until: instantField.optional(),
  })
  .strict()
  .refine((q) => !q.since || !q.until || q.until > q.since, { message: 'must be after since', path: ['until'] });
/** results.csv takes no parameter (a misspelt one is a 400, not silently ignored). */
export const resultsCsvQuery = z.object({}).strict();

/** The run, if the caller may see it (otherwise it does not exist, 404); its ID. */
export async function visibleRunId(deps: ApiDeps, res: Response, rawId: unknown): Promise<string> {
  const runId = parseId(rawId, 'run');
  const businessId = await runBusinessId(deps, runId);
  if (!businessId) throw notFound('run', runId);
  authorizeBusiness(res, businessId, 'run', runId);
  return runId;
}

export function listRoutes(deps: ApiDeps) {
  const router = Router();

  router.get('/v1/businesses', async (req, res) => {
    requireAdmin(res);
    const query = parseOr400(businessesQuery, req.query, 'query');
    res.json(await listBusinesses(deps, { before: query.cursor ?? null, limit: query.limit }));
  });

  router.get('/v1/businesses/:businessId/runs', async (req, res) => {
    const businessId = parseId(req.params.businessId, 'business');
    authorizeBusiness(res, businessId);
    const query = parseOr400(runsQuery, req.query, 'query');
    const page = await listRuns(deps, businessId, { statuses: query.status ?? null, before: query.cursor ?? null, limit: query.limit });
    if (!page) throw notFound('business', businessId);
    res.json(page);
  });

  router.get('/v1/businesses/:businessId/calls', async (req, res) => {
    const businessId = parseId(req.params.businessId, 'business');
    authorizeBusiness(res, businessId);
    const query = parseOr400(callsQuery, req.query, 'query');
    const page = await listCalls(deps, businessId, {
      direction: query.direction ?? null,
      statuses: query.status ?? null,
      since: query.since ?? null,
      until: query.until ?? null,
      before: query.cursor ?? null,
      limit: query.limit,
    });
    if (!page) throw notFound('business', businessId);
    res.json(page);
  });

  router.get('/v1/runs/:runId/jobs', async (req, res) => {
    const runId = await visibleRunId(deps, res, req.params.runId);
    const query = parseOr400(jobsQuery, req.query, 'query');
    res.json(await listRunJobs(deps, runId, { statuses: query.status ?? null, outcomes: query.outcome ?? null, after: query.cursor ?? null, limit: query.limit }));
  });

  /** Streamed as it is read (src/domain/runs/results-csv.ts); a failure once rows went out can only cut the response short. */
  router.get('/v1/runs/:runId/results.csv', async (req, res) => {
    const runId = await visibleRunId(deps, res, req.params.runId);
    parseOr400(resultsCsvQuery, req.query, 'query');
    const { header, rows } = await runResults(deps, runId);
    res.status(200).type('text/csv; charset=utf-8').set('Content-Disposition', `attachment; filename="run-${runId}-results.csv"`);
    try {
      await pipeline(Readable.from(rows), stringify({ header: true, columns: header }), res);
    } catch (err) {
      if (!res.headersSent) throw err;
      deps.logger.error({ err, runId }, 'results.csv cut short');
    }
  });

  return router;
}
