import { Router } from 'express';
import { dependencyHealth } from '../../health';
import type { ApiDeps } from '../app';

/** GET /healthz: 200 when Postgres and Temporal both answer, 503 naming the one that does not. */
export function healthRoutes({ database, temporal }: ApiDeps) {
  return Router().get('/healthz', async (_req, res) => {
    const { ok, postgres, temporal: temporalStatus } = await dependencyHealth({ database, temporal });
    res.status(ok ? 200 : 503).json({ status: ok ? 'ok' : 'unavailable', postgres, temporal: temporalStatus });
  });
}
