/**
 * A tiny HTTP proxy that hands each request to the next of several API processes in turn, so a
 * stack with more than one API has one PUBLIC_HOST (the sandbox carrier sends callbacks to one
 * host, as Twilio does behind a load balancer). Bodies and headers pass through unchanged, so
 * Twilio signatures (over PUBLIC_HOST + path) still verify.
 */
import http from 'node:http';

export function startRoundRobinProxy(port: number, targetPorts: () => number[]): Promise<http.Server> {
  let next = 0;
  const server = http.createServer((req, res) => {
    const targets = targetPorts();
    const target = targets[next++ % targets.length]!;
    const upstream = http.request({ host: '127.0.0.1', port: target, method: req.method, path: req.url, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    upstream.on('error', () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    req.pipe(upstream);
  });
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve(server)));
}
