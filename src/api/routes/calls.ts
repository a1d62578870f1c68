import { eq } from 'drizzle-orm';
import { Router } from 'express';
import { z } from 'zod';
import { placeReservedCall } from '../../calls/place-call';
import { reconcileStaleCalls } from '../../calls/reconcile';
import { calls } from '../../db/schema';
import { resolvePublicHost } from '../../public-host';
import { reserveDirectCall } from '../../slots';
import type { ApiDeps } from '../app';
import { HttpError, notFound } from '../errors';
import { e164Phone, parseId, parseOr400 } from '../validation';

const createCallBody = z.object({ to: e164Phone }).strict();

/** How long a caller refused at the limit should wait: calls usually end within tens of seconds. */
const AT_LIMIT_RETRY_AFTER_SECONDS = 5;

export function callView(row: typeof calls.$inferSelect) {
  return {
    id: row.id,
    businessId: row.businessId,
    direction: row.direction,
    status: row.status,
    to: row.toNumber,
    from: row.fromNumber,
    twilioCallSid: row.twilioCallSid,
    runId: row.runId,
    jobId: row.jobId,
    errorCode: row.errorCode,
    lastError: row.lastError,
    durationSeconds: row.durationSeconds,
    createdAt: row.createdAt.toISOString(),
    dialedAt: row.dialedAt?.toISOString() ?? null,
    answeredAt: row.answeredAt?.toISOString() ?? null,
    endedAt: row.endedAt?.toISOString() ?? null,
  };
}

export function callRoutes(deps: ApiDeps) {
  const { database, config, logger, wakeRuns } = deps;
  const router = Router();

  const loadCall = async (id: string) => {
    const row = await database.db.query.calls.findFirst({ where: eq(calls.id, id) });
    if (!row) throw notFound('call', id);
    return row;
  };

  /** A direct one-off call, under the same limit as the business's runs. */
  router.post('/v1/businesses/:businessId/calls', async (req, res) => {
    const businessId = parseId(req.params.businessId, 'business');
    const { to } = parseOr400(createCallBody, req.body);
    const host = resolvePublicHost(config);
    if (!host.ok) throw new HttpError(503, 'no_public_host', `${host.error}: set PUBLIC_HOST so the carrier can reach the status callback`);

    let reservation = await reserveDirectCall(database, businessId, to, host.baseUrl);
    if (!reservation.ok && reservation.reason === 'at-limit') {
      // A slot held only by a call whose end we never heard of is not a reason to refuse: ask the carrier.
      const reconciled = await reconcileStaleCalls(deps, businessId, config.reconcileAfterSeconds);
      if (reconciled.freed > 0) {
        await wakeRuns(businessId);
        reservation = await reserveDirectCall(database, businessId, to, host.baseUrl);
      }
    }
    if (!reservation.ok && reservation.reason === 'business-not-found') throw notFound('business', businessId);
    if (!reservation.ok) {
      const { active, limit } = reservation.slots;
      logger.info({ businessId, active, limit }, `direct call refused: business at its limit (${active}/${limit})`);
      throw new HttpError(
        429,
        'concurrency_limit',
        `business ${businessId} is at its limit of ${limit} concurrent calls; retry after a call ends`,
        { activeCalls: active, maxConcurrentCalls: limit },
        { 'Retry-After': String(AT_LIMIT_RETRY_AFTER_SECONDS) },
      );
    }

    const { callId } = reservation.call;
    const outcome = await placeReservedCall(deps, reservation.call);
    switch (outcome.kind) {
      case 'placed':
        logger.info({ businessId, callId, callSid: outcome.callSid, to }, 'direct call started');
        res.status(201).json({ call: callView(await loadCall(callId)) });
        return;
      case 'rejected':
        await wakeRuns(businessId);
        throw new HttpError(422, 'carrier_rejected', `the carrier refused the call: ${outcome.message}`, {
          callId,
          twilioErrorCode: outcome.errorCode,
        });
      case 'account-refused':
        throw new HttpError(422, 'carrier_refused_account', `the carrier refused the business's account or caller ID: ${outcome.message}`, {
          twilioErrorCode: outcome.errorCode,
        });
      case 'not-sent':
        throw new HttpError(503, 'carrier_unavailable', `the carrier did not take the call (nothing was placed): ${outcome.message}`, undefined, {
          'Retry-After': String(AT_LIMIT_RETRY_AFTER_SECONDS),
        });
      case 'unknown':
        // The carrier may have the call: report it as pending; its callback settles it.
        res.status(202).json({ call: callView(await loadCall(callId)) });
        return;
    }
  });

  router.get('/v1/calls/:callId', async (req, res) => {
    res.json({ call: callView(await loadCall(parseId(req.params.callId, 'call'))) });
  });

  return router;
}
