import { Router } from 'express';
import type { ApiDeps } from '../app';

async function probe(check: () => Promise<unknown>, timeoutMs = 2000): Promise<{ ok: true } | { ok: false; error: string }> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      check(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
    return { ok: true };
  } catch (err) {
    return { ok: false, error: err instanceof Error ? err.message : String(err) };
  } finally {
    clearTimeout(timer);
  }
}

/** GET /healthz: 200 when Postgres and Temporal both answer, 503 naming the one that does not. */
export function healthRoutes({ database, temporal }: ApiDeps) {
  return Router().get('/healthz', async (_req, res) => {
    const [postgres, temporalStatus] = await Promise.all([
      probe(() => database.pool.query('SELECT 1')),
      probe(() => temporal.connection.workflowService.getSystemInfo({})),
    ]);
    const ok = postgres.ok && temporalStatus.ok;
    res.status(ok ? 200 : 503).json({ status: ok ? 'ok' : 'unavailable', postgres, temporal: temporalStatus });
  });
}
