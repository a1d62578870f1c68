import type { Client } from '@temporalio/client';
import type { Database } from './db/client';

export type Probe = { ok: true } | { ok: false; error: string };

export async function probe(check: () => Promise<unknown>, timeoutMs = 2000): Promise<Probe> {
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

/** Whether Postgres and Temporal answer now: what the API's and each worker's /healthz report. */
export async function dependencyHealth(deps: { database: Database; temporal: Client }): Promise<{ ok: boolean; postgres: Probe; temporal: Probe }> {
  const [postgres, temporal] = await Promise.all([
    probe(() => deps.database.pool.query('SELECT 1')),
    probe(() => deps.temporal.connection.workflowService.getSystemInfo({})),
  ]);
  return { ok: postgres.ok && temporal.ok, postgres, temporal };
}
