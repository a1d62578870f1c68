import http from 'node:http';
import type { Registry } from 'prom-client';
import { renderMetrics, scrapeRefusal } from './scrape';

export interface MetricsServer {
  close(): Promise<void>;
}

/**
 * A process without the API's Express app (the worker) serves its metrics on a port of its own:
 * `GET /metrics` only, behind METRICS_TOKEN when it is set, answering errors in the API's JSON shape.
 */
export async function startMetricsServer(opts: { port: number; token: string | undefined; registries: Registry[] }): Promise<MetricsServer> {
  const server = http.createServer((req, res) => {
    const fail = (status: number, code: string, message: string, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers }).end(JSON.stringify({ error: { code, message } }));
    };
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics') return fail(404, 'route_not_found', `no route for ${req.method} ${path}; metrics are at GET /metrics`);
    if (req.method !== 'GET' && req.method !== 'HEAD') return fail(405, 'method_not_allowed', 'use GET /metrics', { allow: 'GET, HEAD' });
    const refusal = scrapeRefusal(req.headers.authorization, opts.token);
    if (refusal) return fail(401, 'unauthorized', refusal, { 'www-authenticate': 'Bearer realm="outdial-metrics"' });
    renderMetrics(opts.registries).then(
      (m) => res.writeHead(200, { 'content-type': m.contentType }).end(req.method === 'HEAD' ? undefined : m.body),
      (err: Error) => fail(503, 'metrics_unavailable', `could not collect the metrics: ${err.message}`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(new Error(`cannot serve metrics on port ${opts.port}: ${err.message}`)));
    server.listen(opts.port, () => resolve());
  });
  return {
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
