import { eq } from 'drizzle-orm';
import { Router } from 'express';
import { z } from 'zod';
import { businesses } from '../../db/schema';
import { countActiveCalls } from '../../slots';
import type { ApiDeps } from '../app';
import { notFound } from '../errors';
import { e164Phone, parseId, parseOr400 } from '../validation';

const createBusinessBody = z.object({
  name: z.string().trim().min(1, 'must not be empty').max(200),
  callerId: e164Phone,
  maxConcurrentCalls: z.number().int().min(1).max(1000).default(3),
});

export function businessView(row: typeof businesses.$inferSelect, activeCalls?: number) {
  return {
    id: row.id,
    name: row.name,
    callerId: row.callerId,
    maxConcurrentCalls: row.maxConcurrentCalls,
    ...(activeCalls === undefined ? {} : { activeCalls }),
    createdAt: row.createdAt.toISOString(),
  };
}

export function businessRoutes({ database }: ApiDeps) {
  const router = Router();

  router.post('/v1/businesses', async (req, res) => {
    const body = parseOr400(createBusinessBody, req.body);
    const [row] = await database.db.insert(businesses).values(body).returning();
    res.status(201).json({ business: businessView(row!, 0) });
  });

  router.get('/v1/businesses/:businessId', async (req, res) => {
    const id = parseId(req.params.businessId, 'business');
    const row = await database.db.query.businesses.findFirst({ where: eq(businesses.id, id) });
    if (!row) throw notFound('business', id);
    res.json({ business: businessView(row, await countActiveCalls(database, id)) });
  });

  return router;
}
