import { Router, type Request, type Response } from 'express';
import { z } from 'zod';
import { addLeads } from '../../domain/runs/add-leads';
import { changeRunState } from '../../domain/runs/change-run';
import { closeRun } from '../../domain/runs/close-run';
import { createRun, oneChunk } from '../../domain/runs/create-run';
import { getRun } from '../../domain/runs/run-view';
import type { ApiDeps } from '../app';
import { authorizeBusiness } from '../auth';
import { HttpError, notFound } from '../errors';
import { deferredIdempotencyOf } from '../idempotency';
import { callingWindowField, instantField, machineDetectionField, retriesField, timeZoneField, variablesField, voiceAppField } from '../campaign-fields';
import { DEFAULT_CSV_COLUMNS, MAX_LEAD_NAME_LENGTH, readCsvLeads } from '../csv-leads';
import { e164Phone, parseId, parseOr400 } from '../validation';

export const MAX_LEADS_PER_RUN = 100_000;

export const leadRow = z
  .object({
    phone: e164Phone,
    name: z.string().trim().max(MAX_LEAD_NAME_LENGTH).optional(),
    variables: variablesField.optional(),
    timeZone: timeZoneField.optional(),
    /** Not dialed before this (a callback the lead asked for); then in its turn, in its window. */
    callAt: instantField.optional(),
  })
  .strict();
/** A run's settings: everything but its leads (the JSON body's other fields; a CSV upload's `options`). */
export const runSettings = z.object({
  allowDuplicates: z.boolean().default(false),
  voiceApp: voiceAppField.optional(),
  callerId: e164Phone.optional(),
  machineDetection: machineDetectionField.optional(),
  maxConcurrentCalls: z.number().int().min(1).max(1000).optional(),
  callingWindow: callingWindowField.optional(),
  startAt: instantField.optional(),
  stopAt: instantField.optional(),
  retries: retriesField.optional(),
  keepOpen: z.boolean().optional(),
});

function checkedTimes<T extends z.ZodType<{ startAt?: Date | undefined; stopAt?: Date | undefined }>>(schema: T) {
  return schema
    .refine((b) => !b.stopAt || b.stopAt.getTime() > Date.now(), { message: 'must be in the future', path: ['stopAt'] })
    .refine((b) => !b.stopAt || !b.startAt || b.stopAt > b.startAt, { message: 'must be after startAt', path: ['stopAt'] });
}

const createRunBody = checkedTimes(
  runSettings.extend({ leads: z.array(z.unknown()).min(1, 'must hold at least one lead').max(MAX_LEADS_PER_RUN) }).strict(),
);

/** A CSV upload's query: which columns hold what, and the run's settings as one JSON object. */
export const csvQuery = z
  .object({
    phoneColumn: z.string().min(1).max(100).default(DEFAULT_CSV_COLUMNS.phone),
    nameColumn: z.string().min(1).max(100).default(DEFAULT_CSV_COLUMNS.name),
    timeZoneColumn: z.string().min(1).max(100).default(DEFAULT_CSV_COLUMNS.timeZone),
    callAtColumn: z.string().min(1).max(100).default(DEFAULT_CSV_COLUMNS.callAt),
    options: z
      .string()
      .max(20_000)
      .transform((text, ctx) => {
        try {
          return JSON.parse(text) as unknown;
        } catch {
          ctx.addIssue({ code: 'custom', message: 'must be a JSON object of the run settings' });
          return z.NEVER;
        }
      })
      .optional(),
  })
  .strict();
const csvSettings = checkedTimes(runSettings.strict());

/** A CSV body: leads from the stream as it is parsed, settings from the query (see csv-leads.ts). */
function parseCsvRun(req: Request) {
  const { options, leads, fingerprint } = csvUpload(req);
  const settings = parseOr400(csvSettings, options, 'options');
  return { run: { ...settings, leads }, fingerprint };
}

/** A CSV body's leads as they stream in (columns named by the query), its `options`, and what stands for the body an Idempotency-Key is bound to. */
function csvUpload(req: Request) {
  const query = parseOr400(csvQuery, req.query, 'query');
  const csv = readCsvLeads(req, { phone: query.phoneColumn, name: query.nameColumn, timeZone: query.timeZoneColumn, callAt: query.callAtColumn }, MAX_LEADS_PER_RUN);
  return { options: query.options ?? {}, leads: csv.chunks, fingerprint: () => ({ csvSha256: csv.sha256(), query: req.query }) };
}

/** A JSON body: its leads are the one chunk of the run's list. */
function parseJsonRun(req: Request) {
  const { leads, ...settings } = parseRunBody(req.body);
  return { run: { ...settings, leads: oneChunk(leads) }, fingerprint: () => req.body as unknown };
}

/** Validates every lead row, so the caller learns of all bad rows at once; any bad row rejects the whole run. */
function parseRunBody(body: unknown) {
  const { leads, ...settings } = parseOr400(createRunBody, body);
  return { ...settings, leads: validLeadRows(leads, 'nothing was created') };
}

/** Every row checked; any bad one rejects them all (400 naming each). */
function validLeadRows(leads: unknown[], nothingWritten: string) {
  const rows: z.output<typeof leadRow>[] = [];
  const errors: { index: number; field: string; message: string }[] = [];
  leads.forEach((raw, index) => {
    const r = leadRow.safeParse(raw);
    if (r.success) rows.push(r.data);
    else for (const issue of r.error.issues) errors.push({ index, field: issue.path.join('.') || 'lead', message: issue.message });
  });
  if (errors.length > 0) {
    throw new HttpError(400, 'invalid_leads', `${new Set(errors.map((e) => e.index)).size} of ${leads.length} leads are invalid; ${nothingWritten}`, errors);
  }
  return rows;
}

/** Leads for a run that exists: JSON `{ leads, allowDuplicates }`, or a CSV with `allowDuplicates` in `options`. */
export const addLeadsBody = z.object({ leads: z.array(z.unknown()).min(1, 'must hold at least one lead').max(MAX_LEADS_PER_RUN), allowDuplicates: z.boolean().default(false) }).strict();
export const addLeadsCsvOptions = z.object({ allowDuplicates: z.boolean().default(false) }).strict();

function parseAddedLeads(req: Request) {
  if (req.is('text/csv')) {
    const { options, leads, fingerprint } = csvUpload(req);
    return { leads, allowDuplicates: parseOr400(addLeadsCsvOptions, options, 'options').allowDuplicates, fingerprint };
  }
  const { leads, allowDuplicates } = parseOr400(addLeadsBody, req.body);
  return { leads: oneChunk(validLeadRows(leads, 'nothing was added')), allowDuplicates, fingerprint: () => req.body as unknown };
}

/** The run, if the caller may see it; otherwise it does not exist. */
export async function visibleRun(deps: Pick<ApiDeps, 'database'>, res: Response, rawId: unknown) {
  const runId = parseId(rawId, 'run');
  const run = await getRun(deps.database, runId);
  if (!run) throw notFound('run', runId);
  authorizeBusiness(res, run.businessId, 'run', runId);
  return run;
}

export function runRoutes(deps: ApiDeps) {
  const router = Router();

  router.post('/v1/businesses/:businessId/runs', async (req, res) => {
    const businessId = parseId(req.params.businessId, 'business');
    authorizeBusiness(res, businessId);
    // JSON, or a CSV streamed in (its bytes' hash stands for the body an Idempotency-Key is bound to).
    const { run, fingerprint } = req.is('text/csv') ? parseCsvRun(req) : parseJsonRun(req);
    const created = await createRun(deps, { businessId, ...run, idempotency: deferredIdempotencyOf(req, res, fingerprint) });
    if (created.ok) return void res.status(201).json({ run: created.run, duplicatesMerged: created.duplicatesMerged });
    switch (created.reason) {
      case 'business-not-found':
        throw notFound('business', businessId);
      case 'caller-id-not-owned':
        throw new HttpError(422, 'caller_id_not_owned', `callerId is not one of the business's caller IDs (${created.callerIds.join(', ')})`, { callerIds: created.callerIds });
      case 'cap-above-limit':
        throw new HttpError(422, 'cap_above_limit', `maxConcurrentCalls must be at most the business's limit of ${created.limit}`, { maxConcurrentCalls: created.limit });
    }
  });

  router.get('/v1/runs/:runId', async (req, res) => {
    res.json({ run: await visibleRun(deps, res, req.params.runId) });
  });

  router.post('/v1/runs/:runId/leads', async (req, res) => {
    const run = await visibleRun(deps, res, req.params.runId);
    const { leads, allowDuplicates, fingerprint } = parseAddedLeads(req);
    const added = await addLeads(deps, { runId: run.id, leads, allowDuplicates, maxLeads: MAX_LEADS_PER_RUN, idempotency: deferredIdempotencyOf(req, res, fingerprint) });
    if (added.ok) return void res.status(201).json({ run: added.run, added: added.added, duplicatesMerged: added.duplicatesMerged });
    switch (added.reason) {
      case 'not-found':
        throw notFound('run', run.id);
      case 'not-accepting': {
        const why = added.pastStopAt ? `passed its stopAt (${added.pastStopAt.toISOString()})` : `is ${added.status}`;
        throw new HttpError(409, 'run_not_accepting_leads', `run ${run.id} ${why}: it takes no more leads; nothing was added`, { status: added.status });
      }
      case 'too-many-leads':
        throw new HttpError(422, 'too_many_leads', `run ${run.id} holds ${added.held} leads; a run holds at most ${added.maxLeads}; nothing was added`, { held: added.held, maxLeads: added.maxLeads });
    }
  });

  router.post('/v1/runs/:runId/close', async (req, res) => {
    const run = await visibleRun(deps, res, req.params.runId);
    const closed = await closeRun(deps, run.id);
    if (!closed.ok) throw notFound('run', run.id);
    res.json({ run: closed.run });
  });

  for (const action of ['pause', 'resume', 'cancel'] as const) {
    router.post(`/v1/runs/:runId/${action}`, async (req, res) => {
      const run = await visibleRun(deps, res, req.params.runId);
      const changed = await changeRunState(deps, run.id, action);
      if (changed.ok) return void res.json({ run: changed.run });
      if (changed.reason === 'not-found') throw notFound('run', run.id);
      throw new HttpError(409, 'invalid_transition', `cannot ${action} run ${run.id}: ${changed.message}`);
    });
  }

  return router;
}
