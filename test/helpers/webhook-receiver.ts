import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';

export interface ReceivedWebhook {
  id: string;
  body: { type: string; timestamp: string; data: Record<string, unknown> };
  /** The request as it came, to verify again with another secret. */
  raw: string;
  headers: Record<string, string>;
}

/**
 * A customer's webhook receiver on a real port: verifies each request with the standardwebhooks
 * library and the business's secret, answers 500 to the first `failFirst` requests, and can go down
 * (closed: connection refused) and come back on the same port.
 */
export class WebhookReceiver {
  /** Requests that verified and were answered 2xx, in arrival order. */
  readonly accepted: ReceivedWebhook[] = [];
  /** Requests whose signature did not verify (answered 400). */
  readonly rejected: { raw: string; headers: Record<string, string>; error: string }[] = [];
  requests = 0;
  secret: string | null = null;
  /** Called after a request was accepted and answered. */
  onAccepted: ((webhook: ReceivedWebhook) => void) | null = null;
  private server: http.Server | null = null;

  private constructor(
    readonly port: number,
    private readonly failFirst: number,
  ) {}

  static async start(opts: { failFirst?: number } = {}): Promise<WebhookReceiver> {
    const probe = http.createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const receiver = new WebhookReceiver(port, opts.failFirst ?? 0);
    await receiver.open();
    return receiver;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/hooks/outdial`;
  }

  /** Listens (again) on its port. */
  async open(): Promise<void> {
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => this.handle(req, Buffer.concat(chunks).toString('utf8'), res));
    });
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
    this.server = server;
  }

  private handle(req: http.IncomingMessage, raw: string, res: http.ServerResponse): void {
    this.requests += 1;
    if (this.requests <= this.failFirst) {
      res.writeHead(500).end('not yet');
      return;
    }
    const headers = req.headers as Record<string, string>;
    try {
      const body = new Webhook(this.secret ?? '').verify(raw, headers) as ReceivedWebhook['body'];
      const webhook = { id: String(req.headers['webhook-id']), body, raw, headers };
      this.accepted.push(webhook);
      res.on('finish', () => this.onAccepted?.(webhook));
      res.writeHead(204).end();
    } catch (err) {
      this.rejected.push({ raw, headers, error: (err as Error).message });
      res.writeHead(400).end('bad signature');
    }
  }

  /** Goes down: new connections are refused, open ones cut. */
  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = null;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }
}
