import { Gauge, Registry } from 'prom-client';
import type { Database } from '../db/client';
import { countActiveCallsPerDirection } from '../db/queries/calls';
import { countRunsByStatus } from '../db/queries/runs';
import { CALL_DIRECTIONS, RUN_STATUSES } from '../db/statuses';

/**
 * Gauges read from Postgres at scrape time, over every business: the same totals whichever process
 * serves them, so only the API serves them (aggregate several API processes with max, not sum).
 */
export function databaseGauges(database: Database): Registry {
  const registry = new Registry();
  new Gauge({
    name: 'outdial_active_calls',
    help: 'Calls holding a slot now (reserved, queued, initiated, ringing, in-progress), over every business, by direction',
    labelNames: ['direction'] as const,
    registers: [registry],
    async collect() {
      const counts = await countActiveCallsPerDirection(database.pool);
      for (const direction of CALL_DIRECTIONS) this.set({ direction }, counts.get(direction) ?? 0);
    },
  });
  new Gauge({
    name: 'outdial_runs',
    help: 'Bulk call runs, over every business, by status',
    labelNames: ['status'] as const,
    registers: [registry],
    async collect() {
      const counts = await countRunsByStatus(database.pool);
      for (const status of RUN_STATUSES) this.set({ status }, counts.get(status) ?? 0);
    },
  });
  return registry;
}
