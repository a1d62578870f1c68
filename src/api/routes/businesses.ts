import { Router } from 'express';
import { z } from 'zod';
import { listKeys, mintApiKey, revokeKey } from '../../domain/api-keys';
import { changeBusiness, createBusiness, getBusiness, type BusinessResult } from '../../domain/businesses';
import type { ApiDeps } from '../app';
import { authorizeBusiness, requireAdmin } from '../auth';
import { HttpError, notFound } from '../errors';
import { callingWindowField, timeZoneField, voiceAppField } from '../campaign-fields';
import { idempotencyOf } from '../idempotency';
import { e164Phone, parseId, parseOr400 } from '../validation';

const name = z.string().trim().min(1, 'must not be empty').max(200);
const maxConcurrentCalls = z.number().int().min(1).max(1000);

const callerIds = z.array(e164Phone).max(100);
const reservedDirectSlots = z.number().int().min(0).max(999);

export const createBusinessBody = z
  .object({
    name,
    callerId: e164Phone,
    callerIds: callerIds.optional(),
    maxConcurrentCalls: maxConcurrentCalls.default(3),
    reservedDirectSlots: reservedDirectSlots.default(0),
    voiceApp: voiceAppField.nullable().optional(),
    timeZone: timeZoneField.optional(),
    callingWindow: callingWindowField.nullable().optional(),
  })
  .strict();
export const changeBusinessBody = z
  .object({
    name: name.optional(),
    callerId: e164Phone.optional(),
    callerIds: callerIds.optional(),
    maxConcurrentCalls: maxConcurrentCalls.optional(),
    reservedDirectSlots: reservedDirectSlots.optional(),
    voiceApp: voiceAppField.nullable().optional(),
    timeZone: timeZoneField.optional(),
    callingWindow: callingWindowField.nullable().optional(),
  })
  .strict()
  .refine((b) => Object.keys(b).length > 0, 'name at least one field to change');
export const mintKeyBody = z.object({ name: z.string().trim().min(1).max(200).optional() }).strict();

/** The business, or the HTTP error its refusal maps to. */
function businessOr4xx(result: BusinessResult, id?: string) {
  if (result.ok) return result.business;
  if (result.reason === 'not-found') throw notFound('business', id ?? '');
  throw new HttpError(400, 'invalid_request', result.message);
}

export function businessRoutes(deps: ApiDeps) {
  const router = Router();

  router.post('/v1/businesses', async (req, res) => {
    requireAdmin(res);
    const body = parseOr400(createBusinessBody, req.body);
    res.status(201).json({ business: businessOr4xx(await createBusiness(deps, body, idempotencyOf(req, res))) });
  });

  router.get('/v1/businesses/:businessId', async (req, res) => {
    const id = parseId(req.params.businessId, 'business');
    authorizeBusiness(res, id);
    const business = await getBusiness(deps, id);
    if (!business) throw notFound('business', id);
    res.json({ business });
  });

  router.patch('/v1/businesses/:businessId', async (req, res) => {
    requireAdmin(res);
    const id = parseId(req.params.businessId, 'business');
    res.json({ business: businessOr4xx(await changeBusiness(deps, id, parseOr400(changeBusinessBody, req.body)), id) });
  });

  router.post('/v1/businesses/:businessId/api-keys', async (req, res) => {
    requireAdmin(res);
    const id = parseId(req.params.businessId, 'business');
    const { name: keyName } = parseOr400(mintKeyBody, req.body ?? {});
    const minted = await mintApiKey(deps, id, keyName ?? null, idempotencyOf(req, res));
    if ('notFound' in minted) throw notFound('business', id);
    res.status(201).json(minted);
  });

  router.get('/v1/businesses/:businessId/api-keys', async (req, res) => {
    const id = parseId(req.params.businessId, 'business');
    authorizeBusiness(res, id);
    if (!(await getBusiness(deps, id))) throw notFound('business', id);
    res.json({ apiKeys: await listKeys(deps, id) });
  });

  /** A business may revoke its own keys (a leaked one above all); an admin any. */
  router.delete('/v1/businesses/:businessId/api-keys/:keyId', async (req, res) => {
    const id = parseId(req.params.businessId, 'business');
    authorizeBusiness(res, id);
    const keyId = parseId(req.params.keyId, 'API key');
    const revoked = await revokeKey(deps, id, keyId);
    if (!revoked) throw notFound('API key', keyId);
    res.json({ apiKey: revoked });
  });

  return router;
}
