import http from 'node:http';
import https from 'node:https';
import { setMaxListeners } from 'node:events';
import type { CallbackRequest } from './signing';

export type SendResult =
  /** `body` only when the request asked for it (maxBodyBytes); `truncated` when it was longer. */
  | { kind: 'response'; status: number; body?: string; truncated?: boolean }
  | { kind: 'connection-error'; error: string }
  | { kind: 'timeout'; error: string }
  | { kind: 'aborted'; error: string };

export interface SendOptions {
  connectTimeoutMs: number;
  responseTimeoutMs: number;
  headers: Record<string, string>;
  signal: AbortSignal;
  /** Read the response body, up to this many bytes (voice requests); otherwise it is discarded. */
  maxBodyBytes?: number;
}

/**
 * One HTTP attempt. Failures are told apart the way Twilio's retry policy needs: no connection (or
 * the connection dropped before any response) versus a response that took too long.
 */
export class HttpSender {
  // Keep-alive agents of our own so stop() can tear every socket down.
  private readonly agents = {
    'http:': new http.Agent({ keepAlive: true, maxSockets: 64 }),
    'https:': new https.Agent({ keepAlive: true, maxSockets: 64 }),
  };

  send(req: CallbackRequest, opts: SendOptions): Promise<SendResult> {
    return new Promise<SendResult>((resolve) => {
      if (opts.signal.aborted) {
        resolve({ kind: 'aborted', error: 'carrier stopped' });
        return;
      }
      let settled = false;
      const timers: NodeJS.Timeout[] = [];
      const finish = (result: SendResult) => {
        if (settled) return;
        settled = true;
        for (const t of timers) clearTimeout(t);
        opts.signal.removeEventListener('abort', onAbort);
        resolve(result);
      };
      const headers: Record<string, string> = { ...opts.headers };
      if (req.body !== null) headers['Content-Length'] = String(Buffer.byteLength(req.body));
      if (req.basicAuth) headers.Authorization = `Basic ${Buffer.from(req.basicAuth).toString('base64')}`;
      const client = req.protocol === 'https:' ? https : http;
      const outgoing = client.request({
        protocol: req.protocol,
        hostname: req.hostname,
        port: req.port,
        path: req.path,
        method: req.method,
        headers,
        agent: this.agents[req.protocol],
      });
      let connected = false;
      outgoing.on('socket', (socket) => {
        if (!socket.connecting) {
          connected = true;
          return;
        }
        const connectTimer = setTimeout(() => outgoing.destroy(new Error(`connect timeout after ${opts.connectTimeoutMs} ms`)), opts.connectTimeoutMs);
        socket.once('connect', () => {
          connected = true;
          clearTimeout(connectTimer);
        });
        socket.once('close', () => clearTimeout(connectTimer));
      });
      timers.push(
        setTimeout(() => {
          finish({ kind: 'timeout', error: `no response within ${opts.responseTimeoutMs} ms` });
          outgoing.destroy();
        }, opts.responseTimeoutMs),
      );
      const onAbort = () => {
        finish({ kind: 'aborted', error: 'carrier stopped' });
        outgoing.destroy();
      };
      opts.signal.addEventListener('abort', onAbort);
      outgoing.on('response', (res) => {
        res.on('error', () => undefined);
        const status = res.statusCode ?? 0;
        const limit = opts.maxBodyBytes;
        if (limit === undefined) {
          // A status callback's response body is ignored; drain it so the socket can be reused.
          res.resume();
          finish({ kind: 'response', status });
          return;
        }
        // The response timeout keeps running until the whole body is in, as a slow body is a slow answer.
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          chunks.push(chunk);
          size += chunk.length;
          if (size <= limit) return;
          finish({ kind: 'response', status, body: Buffer.concat(chunks).subarray(0, limit).toString('utf8'), truncated: true });
          outgoing.destroy();
        });
        res.on('end', () => finish({ kind: 'response', status, body: Buffer.concat(chunks).toString('utf8'), truncated: false }));
        res.on('close', () => finish({ kind: 'connection-error', error: 'connection closed before the response body ended' }));
      });
      outgoing.on('error', (err) => {
        const reason = connected ? `${err.message} (connection dropped before a response)` : err.message;
        finish({ kind: 'connection-error', error: reason });
      });
      outgoing.end(req.body ?? undefined);
    });
  }

  destroy(): void {
    this.agents['http:'].destroy();
    this.agents['https:'].destroy();
  }
}

/** One signal aborts every in-flight request on reset/stop, so it has one listener per request: no listener cap. */
export function sharedAbortController(): AbortController {
  const controller = new AbortController();
  setMaxListeners(0, controller.signal);
  return controller;
}
