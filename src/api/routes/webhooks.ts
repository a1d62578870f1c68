import { Router } from 'express';
import { z } from 'zod';
import { WEBHOOK_DELIVERY_STATUSES } from '../../db/schema';
import { listDeliveries, parseDeliveryCursor } from '../../domain/webhooks/deliveries';
import {
  DEFAULT_KEEP_PREVIOUS_SECONDS,
  DEFAULT_WEBHOOK_EVENTS,
  getWebhook,
  MAX_KEEP_PREVIOUS_SECONDS,
  removeWebhook,
  rotateWebhookSecret,
  setWebhook,
  WEBHOOK_EVENT_TYPES,
} from '../../domain/webhooks/endpoint';
import { getBusiness } from '../../domain/businesses';
import type { ApiDeps } from '../app';
import { authorizeBusiness } from '../auth';
import { HttpError, notFound } from '../errors';
import { parseId, parseOr400 } from '../validation';

const webhookUrl = z
  .string()
  .max(2048)
  .refine((v) => {
    try {
      const u = new URL(v);
      return (u.protocol === 'https:' || u.protocol === 'http:') && u.hostname.length > 0;
    } catch {
      return false;
    }
  }, 'must be an http(s) URL, for example https://example.com/outdial-webhook');

const eventName = z.string().refine((v) => WEBHOOK_EVENT_TYPES.includes(v as never), `must be one of ${WEBHOOK_EVENT_TYPES.join(', ')}`);

export const setBody = z
  .object({
    url: webhookUrl,
    events: z.array(eventName).min(1, 'must name at least one event').max(WEBHOOK_EVENT_TYPES.length * 2).default([...DEFAULT_WEBHOOK_EVENTS]),
  })
  .strict();

export const rotateBody = z.object({ keepPreviousSeconds: z.number().int().min(0).max(MAX_KEEP_PREVIOUS_SECONDS).default(DEFAULT_KEEP_PREVIOUS_SECONDS) }).strict();

const statusList = z
  .string()
  .transform((v) => v.split(',').map((s) => s.trim()))
  .pipe(z.array(z.enum(WEBHOOK_DELIVERY_STATUSES)));

export const deliveriesQuery = z
  .object({
    limit: z.coerce.number().int().min(1).max(200).default(50),
    cursor: z.string().max(200).optional(),
    status: statusList.optional(),
  })
  .strict();

/**
 * A business's webhook under /v1/businesses/:businessId/webhook (its own key or an admin): set, read
 * (never the secret), remove, rotate the secret; and its deliveries, newest first.
 */
export function webhookRoutes(deps: ApiDeps) {
  const router = Router();
  const base = '/v1/businesses/:businessId/webhook';
  const businessOf = (params: Record<string, string | undefined>, res: Parameters<typeof authorizeBusiness>[0]) => {
    const id = parseId(params.businessId, 'business');
    authorizeBusiness(res, id);
    return id;
  };
  const noWebhook = (id: string) => new HttpError(404, 'not_found', `business ${id} has no webhook`);

  router.put(base, async (req, res) => {
    const id = businessOf(req.params, res);
    const body = parseOr400(setBody, req.body);
    const set = await setWebhook(deps, id, body);
    if (!set) throw notFound('business', id);
    res.status(set.created ? 201 : 200).json({ webhook: set.webhook });
  });

  router.get(base, async (req, res) => {
    const id = businessOf(req.params, res);
    const webhook = await getWebhook(deps, id);
    if (!webhook) throw noWebhook(id);
    res.json({ webhook });
  });

  router.delete(base, async (req, res) => {
    const id = businessOf(req.params, res);
    if (!(await removeWebhook(deps, id))) throw noWebhook(id);
    res.json({ deleted: true });
  });

  router.post(`${base}/rotate-secret`, async (req, res) => {
    const id = businessOf(req.params, res);
    const { keepPreviousSeconds } = parseOr400(rotateBody, req.body ?? {});
    const webhook = await rotateWebhookSecret(deps, id, keepPreviousSeconds);
    if (!webhook) throw noWebhook(id);
    res.json({ webhook });
  });

  router.get('/v1/businesses/:businessId/webhook-deliveries', async (req, res) => {
    const id = businessOf(req.params, res);
    const query = parseOr400(deliveriesQuery, req.query, 'query');
    const cursor = query.cursor === undefined ? null : parseDeliveryCursor(query.cursor);
    if (query.cursor !== undefined && !cursor) throw new HttpError(400, 'invalid_request', 'invalid query: cursor: not a cursor this list gave out');
    if (!(await getBusiness(deps, id))) throw notFound('business', id);
    res.json(await listDeliveries(deps, id, { statuses: query.status ?? null, cursor, limit: query.limit }));
  });

  return router;
}
