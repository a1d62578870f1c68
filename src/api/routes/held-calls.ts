import { Router } from 'express';
import { z } from 'zod';
import { listHeldCalls, releaseHeldCall } from '../../domain/calls/held-calls';
import type { ApiDeps } from '../app';
import { requireAdmin } from '../auth';
import { HttpError, notFound } from '../errors';
import { parseId, parseOr400, storableText } from '../validation';

export const releaseBody = z
  .object({
    reason: storableText.pipe(z.string().trim().min(1, 'must say why the call is released').max(500)),
    /** How the call is ended (default `failed`). */
    status: z.enum(['failed', 'canceled']).default('failed'),
  })
  .strict();

/** Calls held for an operator (admin key only): the list, and the release of one the operator has confirmed is gone. */
export function heldCallRoutes(deps: ApiDeps) {
  const router = Router();

  router.get('/v1/held-calls', async (_req, res) => {
    requireAdmin(res);
    res.json({ data: await listHeldCalls(deps) });
  });

  router.post('/v1/calls/:callId/release', async (req, res) => {
    const principal = requireAdmin(res);
    const callId = parseId(req.params.callId, 'call');
    const body = parseOr400(releaseBody, req.body);
    const result = await releaseHeldCall(deps, { callId, principal, ...body });
    if (result.kind === 'not-found') throw notFound('call', callId);
    if (result.kind === 'not-held') {
      throw new HttpError(
        409,
        'call_not_held',
        `call ${callId} is not held: only an active call the carrier does not know, or checked more than ${deps.config.heldCallAfterChecks} times without news, may be released`,
      );
    }
    res.json({ call: result.call, release: result.release });
  });

  return router;
}
