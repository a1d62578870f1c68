import { Router } from 'express';
import { databaseGauges } from '../../metrics/database-gauges';
import { registry } from '../../metrics/registry';
import { renderMetrics, scrapeRefusal } from '../../metrics/scrape';
import type { ApiDeps } from '../app';
import { HttpError } from '../errors';

/** GET /metrics: this process's metrics and the Postgres gauges, in Prometheus text format (README, Metrics). */
export function metricsRoutes(deps: ApiDeps) {
  const registries = [registry, databaseGauges(deps.database)];
  return Router().get('/metrics', async (req, res) => {
    const refusal = scrapeRefusal(req.get('authorization'), deps.config.metrics.token);
    if (refusal) throw new HttpError(401, 'unauthorized', refusal, undefined, { 'WWW-Authenticate': 'Bearer realm="outdial-metrics"' });
    let metrics: Awaited<ReturnType<typeof renderMetrics>>;
    try {
      metrics = await renderMetrics(registries);
    } catch (err) {
      throw new HttpError(503, 'metrics_unavailable', `could not read the gauges from Postgres: ${(err as Error).message}`);
    }
    res.type(metrics.contentType).send(metrics.body);
  });
}
