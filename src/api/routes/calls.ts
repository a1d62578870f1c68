import { Router } from 'express';
import { z } from 'zod';
import { findCall } from '../../db/queries/calls';
import { callView } from '../../domain/calls/call-view';
import { placeDirectCall } from '../../domain/calls/place-direct-call';
import type { ApiDeps } from '../app';
import { authorizeBusiness } from '../auth';
import { HttpError, notFound } from '../errors';
import { idempotencyOf } from '../idempotency';
import { machineDetectionField, variablesField, voiceAppField } from '../campaign-fields';
import { e164Phone, parseId, parseOr400 } from '../validation';

export const createCallBody = z
  .object({
    to: e164Phone,
    callerId: e164Phone.optional(),
    voiceApp: voiceAppField.optional(),
    variables: variablesField.optional(),
    machineDetection: machineDetectionField.optional(),
  })
  .strict();

/** How long a caller refused at the limit should wait: calls usually end within tens of seconds. */
const AT_LIMIT_RETRY_AFTER_SECONDS = 5;

export function callRoutes(deps: ApiDeps) {
  const { logger } = deps;
  const router = Router();

  /** A direct one-off call, under the same limit as the business's runs. */
  router.post('/v1/businesses/:businessId/calls', async (req, res) => {
    const businessId = parseId(req.params.businessId, 'business');
    authorizeBusiness(res, businessId);
    const body = parseOr400(createCallBody, req.body);
    const result = await placeDirectCall(deps, { businessId, ...body, idempotency: idempotencyOf(req, res) });
    switch (result.kind) {
      case 'placed':
        return void res.status(201).json({ call: result.call });
      case 'pending':
        // The carrier may have the call: report it as pending; its callback settles it.
        return void res.status(202).json({ call: result.call });
      case 'business-not-found':
        throw notFound('business', businessId);
      case 'do-not-call':
        throw new HttpError(422, 'do_not_call', `${body.to} is on a do-not-call list; nothing was dialed`);
      case 'caller-id-not-owned':
        throw new HttpError(422, 'caller_id_not_owned', `callerId is not one of the business's caller IDs (${result.callerIds.join(', ')})`, { callerIds: result.callerIds });
      case 'no-public-host':
        throw new HttpError(503, 'no_public_host', `${result.message}: set PUBLIC_HOST so the carrier can reach the status callback`);
      case 'at-limit': {
        const { active, limit } = result.slots;
        logger.info({ businessId, active, limit }, `direct call refused: business at its limit (${active}/${limit})`);
        throw new HttpError(
          429,
          'concurrency_limit',
          `business ${businessId} is at its limit of ${limit} concurrent calls; retry after a call ends`,
          { activeCalls: active, maxConcurrentCalls: limit },
          { 'Retry-After': String(AT_LIMIT_RETRY_AFTER_SECONDS) },
        );
      }
      case 'rejected':
        throw new HttpError(422, 'carrier_rejected', `the carrier refused the call: ${result.message}`, {
          callId: result.callId,
          twilioErrorCode: result.errorCode,
        });
      case 'account-refused':
        throw new HttpError(422, 'carrier_refused_account', `the carrier refused the business's account or caller ID: ${result.message}`, {
          twilioErrorCode: result.errorCode,
        });
      case 'paced':
        throw new HttpError(503, 'carrier_paced', `the carrier account's calls per second are in use; nothing was placed, retry in a second`, undefined, {
          'Retry-After': '1',
        });
      case 'not-sent':
        throw new HttpError(503, 'carrier_unavailable', `the carrier did not take the call (nothing was placed): ${result.message}`, undefined, {
          'Retry-After': String(AT_LIMIT_RETRY_AFTER_SECONDS),
        });
    }
  });

  router.get('/v1/calls/:callId', async (req, res) => {
    const callId = parseId(req.params.callId, 'call');
    const call = await findCall(deps.database.pool, callId);
    if (!call) throw notFound('call', callId);
    authorizeBusiness(res, call.business_id, 'call', callId);
    res.json({ call: callView(call) });
  });

  return router;
}
