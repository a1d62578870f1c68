import http from 'node:http';
import type { Registry } from 'prom-client';
import { renderMetrics, scrapeRefusal } from './scrape';

export interface MetricsServer {
  close(): Promise<void>;
}

/** What a worker's `GET /healthz` answers: 200 with `status: ok`, or 503 with what is wrong. */
export type HealthCheck = () => Promise<{ ok: boolean } & Record<string, unknown>>;

/**
 * A process without the API's Express app (the worker) serves on a port of its own: `GET /metrics`
 * (behind METRICS_TOKEN when it is set) and `GET /healthz` (open, like the API's), errors in the
 * API's JSON shape.
 */
export async function startMetricsServer(opts: { port: number; token: string | undefined; registries: Registry[]; health: HealthCheck }): Promise<MetricsServer> {
  const server = http.createServer((req, res) => {
    const fail = (status: number, code: string, message: string, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers }).end(JSON.stringify({ error: { code, message } }));
    };
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics' && path !== '/healthz') return fail(404, 'route_not_found', `no route for ${req.method} ${path}; metrics are at GET /metrics, health at GET /healthz`);
    if (req.method !== 'GET' && req.method !== 'HEAD') return fail(405, 'method_not_allowed', `use GET ${path}`, { allow: 'GET, HEAD' });
    if (path === '/healthz') {
      opts.health().then(
        ({ ok, ...detail }) => res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify({ status: ok ? 'ok' : 'unavailable', ...detail })),
        (err: Error) => fail(503, 'unavailable', err.message),
      );
      return;
    }
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
