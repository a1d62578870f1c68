import { randomUUID } from 'node:crypto';
import { WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import { eq } from 'drizzle-orm';
import { Router } from 'express';
import { z } from 'zod';
import { bulkCallRuns, businesses } from '../../db/schema';
import { JOB_STATUSES, TERMINAL_CALL_STATUSES } from '../../db/statuses';
import { inTransaction } from '../../db/client';
import { countActiveCalls } from '../../slots';
import {
  BULK_CALL_RUN_WORKFLOW,
  bulkCallRunWorkflowId,
  cancelRunUpdate,
  pauseRunUpdate,
  resumeRunUpdate,
  type BulkCallRunInput,
} from '../../workflows/messages';
import type { ApiDeps } from '../app';
import { HttpError, notFound } from '../errors';
import { e164Phone, parseId, parseOr400 } from '../validation';

export const MAX_LEADS_PER_RUN = 100_000;

const leadRow = z.object({ phone: e164Phone, name: z.string().trim().max(200).optional() }).strict();
const createRunBody = z.object({ leads: z.array(z.unknown()).min(1, 'must hold at least one lead').max(MAX_LEADS_PER_RUN) });

/** Validates every lead row, so the caller learns of all bad rows at once; any bad row rejects the whole run. */
function parseLeads(body: unknown) {
  const { leads } = parseOr400(createRunBody, body);
  const rows: z.output<typeof leadRow>[] = [];
  const errors: { index: number; field: string; message: string }[] = [];
  leads.forEach((raw, index) => {
    const r = leadRow.safeParse(raw);
    if (r.success) rows.push(r.data);
    else for (const issue of r.error.issues) errors.push({ index, field: issue.path.join('.') || 'lead', message: issue.message });
  });
  if (errors.length > 0) {
    throw new HttpError(400, 'invalid_leads', `${new Set(errors.map((e) => e.index)).size} of ${leads.length} leads are invalid; nothing was created`, errors);
  }
  return rows;
}

export function runRoutes({ database, temporal, config, logger }: ApiDeps) {
  const router = Router();

  router.post('/v1/businesses/:businessId/runs', async (req, res) => {
    const businessId = parseId(req.params.businessId, 'business');
    const leads = parseLeads(req.body);
    const business = await database.db.query.businesses.findFirst({ where: eq(businesses.id, businessId) });
    if (!business) throw notFound('business', businessId);

    const runId = randomUUID();
    const workflowId = bulkCallRunWorkflowId(runId);
    // Run, leads and jobs land together or not at all.
    await inTransaction(database, async (client) => {
      await client.query('INSERT INTO bulk_call_runs (id, business_id, workflow_id) VALUES ($1, $2, $3)', [runId, businessId, workflowId]);
      const leadIds = leads.map(() => randomUUID());
      await client.query(
        `INSERT INTO leads (id, business_id, phone, name)
         SELECT id, $1, phone, name FROM unnest($2::uuid[], $3::text[], $4::text[]) AS t(id, phone, name)`,
        [businessId, leadIds, leads.map((l) => l.phone), leads.map((l) => l.name ?? null)],
      );
      // Jobs keep the order the leads were sent in: that is the order they are dialed.
      await client.query(
        `INSERT INTO outbound_call_jobs (run_id, lead_id, position)
         SELECT $1, lead_id, ord - 1 FROM unnest($2::uuid[]) WITH ORDINALITY AS t(lead_id, ord)`,
        [runId, leadIds],
      );
    });
    const input: BulkCallRunInput = {
      runId,
      businessId,
      wakeFallbackSeconds: config.runWakeFallbackSeconds,
      ...(config.runContinueAsNew ? { limits: config.runContinueAsNew } : {}),
    };
    try {
      await temporal.workflow.start(BULK_CALL_RUN_WORKFLOW, {
        taskQueue: config.temporal.taskQueue,
        workflowId,
        args: [input],
        workflowIdConflictPolicy: 'FAIL',
      });
    } catch (err) {
      // An answer lost in transit does not mean the start failed: believe the server, not the error.
      const started = await temporal.workflow
        .getHandle(workflowId)
        .describe()
        .then(() => true, () => false);
      if (started) {
        res.status(201).json({ run: await runView(runId) });
        return;
      }
      const message = `could not start the run's workflow: ${(err as Error).message}`;
      await database.pool.query("UPDATE bulk_call_runs SET status = 'failed', last_error = $2, finished_at = now() WHERE id = $1", [runId, message]);
      logger.error({ runId, err: (err as Error).message }, 'run not started');
      throw new HttpError(503, 'temporal_unavailable', message);
    }
    logger.info({ runId, businessId, leads: leads.length, workflowId }, 'run created');
    res.status(201).json({ run: await runView(runId) });
  });

  async function runView(runId: string) {
    const run = await database.db.query.bulkCallRuns.findFirst({ where: eq(bulkCallRuns.id, runId) });
    if (!run) throw notFound('run', runId);
    const [jobs, outcomes, business] = await Promise.all([
      database.pool.query<{ status: string; n: string }>('SELECT status, count(*) AS n FROM outbound_call_jobs WHERE run_id = $1 GROUP BY status', [runId]),
      database.pool.query<{ outcome: string; n: string }>(
        'SELECT outcome, count(*) AS n FROM outbound_call_jobs WHERE run_id = $1 AND outcome IS NOT NULL GROUP BY outcome',
        [runId],
      ),
      database.db.query.businesses.findFirst({ where: eq(businesses.id, run.businessId) }),
    ]);
    const jobCounts = Object.fromEntries(JOB_STATUSES.map((s) => [s, 0])) as Record<string, number>;
    for (const r of jobs.rows) jobCounts[r.status] = Number(r.n);
    const outcomeCounts = Object.fromEntries(TERMINAL_CALL_STATUSES.map((s) => [s, 0])) as Record<string, number>;
    for (const r of outcomes.rows) outcomeCounts[r.outcome] = Number(r.n);
    return {
      id: run.id,
      businessId: run.businessId,
      status: run.status,
      lastError: run.lastError,
      workflowId: run.workflowId,
      jobs: { total: Object.values(jobCounts).reduce((a, b) => a + b, 0), ...jobCounts },
      outcomes: outcomeCounts,
      business: { activeCalls: await countActiveCalls(database, run.businessId), maxConcurrentCalls: business?.maxConcurrentCalls ?? null },
      createdAt: run.createdAt.toISOString(),
      startedAt: run.startedAt?.toISOString() ?? null,
      finishedAt: run.finishedAt?.toISOString() ?? null,
    };
  }

  router.get('/v1/runs/:runId', async (req, res) => {
    res.json({ run: await runView(parseId(req.params.runId, 'run')) });
  });

  for (const [action, update] of [
    ['pause', pauseRunUpdate],
    ['resume', resumeRunUpdate],
    ['cancel', cancelRunUpdate],
  ] as const) {
    router.post(`/v1/runs/:runId/${action}`, async (req, res) => {
      const runId = parseId(req.params.runId, 'run');
      const run = await database.db.query.bulkCallRuns.findFirst({ where: eq(bulkCallRuns.id, runId) });
      if (!run) throw notFound('run', runId);
      try {
        // An update, not a signal: the caller learns whether the run accepted the change.
        await temporal.workflow.getHandle(run.workflowId).executeUpdate(update);
      } catch (err) {
        if (err instanceof WorkflowUpdateFailedError || err instanceof WorkflowNotFoundError) {
          const reason = err instanceof WorkflowUpdateFailedError ? (err.cause?.message ?? err.message) : `the run is ${run.status}`;
          throw new HttpError(409, 'invalid_transition', `cannot ${action} run ${runId}: ${reason}`);
        }
        throw err;
      }
      res.json({ run: await runView(runId) });
    });
  }

  return router;
}
