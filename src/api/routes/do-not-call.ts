import { Router, type Request, type Response } from 'express';
import { z } from 'zod';
import { E164_PATTERN } from '../../db/statuses';
import { addNumbers, checkNumber, listNumbers, MAX_NUMBERS_PER_REQUEST, removeNumber, type ListScope } from '../../domain/do-not-call';
import type { ApiDeps } from '../app';
import { authorizeBusiness, requireAdmin } from '../auth';
import { HttpError, notFound } from '../errors';
import { parseId, parseOr400 } from '../validation';

const E164 = new RegExp(E164_PATTERN);

/** A number as lists hold it: E.164, with spaces, dashes, dots and parentheses of a written number dropped. */
export const listedNumber = z
  .string()
  .max(40)
  .transform((v) => v.replace(/[\s\-.()]/g, ''))
  .refine((v) => E164.test(v), 'must be a phone number in E.164 format, for example +14155550100');

export const addBody = z
  .object({
    numbers: z.array(listedNumber).min(1, 'must hold at least one number').max(MAX_NUMBERS_PER_REQUEST),
    reason: z.string().trim().min(1).max(200).optional(),
  })
  .strict();

export const pageQuery = z
  .object({
    limit: z.coerce.number().int().min(1).max(1000).default(100),
    after: listedNumber.optional(),
  })
  .strict();

function phoneParam(value: unknown): string {
  return parseOr400(listedNumber, value, 'phone number');
}

/**
 * A business's do-not-call list (its own key or an admin) under /v1/businesses/:id/do-not-call, and
 * the operator-wide list (admin only) under /v1/do-not-call: add many, list by page, check one, remove one.
 */
export function doNotCallRoutes(deps: ApiDeps) {
  const router = Router();

  const routes = (base: string, scopeOf: (req: Request, res: Response) => ListScope) => {
    const orNotFound = <T>(value: T | null, scope: ListScope): T => {
      if (value === null) throw notFound('business', 'businessId' in scope ? scope.businessId : '');
      return value;
    };

    router.post(base, async (req, res) => {
      const scope = scopeOf(req, res);
      const body = parseOr400(addBody, req.body);
      res.json(orNotFound(await addNumbers(deps, scope, body.numbers, body.reason ?? null), scope));
    });

    router.get(base, async (req, res) => {
      const scope = scopeOf(req, res);
      const page = parseOr400(pageQuery, req.query, 'query');
      res.json(orNotFound(await listNumbers(deps, scope, { after: page.after ?? null, limit: page.limit }), scope));
    });

    router.get(`${base}/:phone`, async (req, res) => {
      const scope = scopeOf(req, res);
      res.json(orNotFound(await checkNumber(deps, scope, phoneParam(req.params.phone)), scope));
    });

    router.delete(`${base}/:phone`, async (req, res) => {
      const scope = scopeOf(req, res);
      const phone = phoneParam(req.params.phone);
      if (!(await removeNumber(deps, scope, phone))) throw new HttpError(404, 'not_found', `${phone} is not on this do-not-call list`);
      res.json({ removed: phone });
    });
  };

  routes('/v1/businesses/:businessId/do-not-call', (req, res) => {
    const businessId = parseId(req.params.businessId, 'business');
    authorizeBusiness(res, businessId);
    return { businessId };
  });
  routes('/v1/do-not-call', (_req, res) => {
    requireAdmin(res);
    return { global: true };
  });
  return router;
}
