import { Client } from 'pg';
import type { Logger } from '../logger';

export interface Listener {
  /** Resolves once the first LISTEN is in place: read what you follow after it, and no change is missed. */
  ready: Promise<void>;
  close(): Promise<void>;
}

/**
 * One dedicated connection LISTENing on `channel` for the whole process (never one per consumer),
 * reconnecting with backoff when Postgres goes away. Notifications sent while it was disconnected
 * are lost, so `onReconnect` runs after every reconnect: consumers re-read what they follow.
 */
export function listen(
  databaseUrl: string,
  channel: string,
  handlers: { onNotify(payload: string): void; onReconnect(): void },
  logger: Logger,
): Listener {
  let client: Client | null = null;
  let closed = false;
  let retry: NodeJS.Timeout | null = null;
  let delayMs = 100;
  let markReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => (markReady = resolve));

  const connect = async (reconnecting: boolean): Promise<void> => {
    const c = new Client({ connectionString: databaseUrl });
    c.on('error', () => undefined);
    c.on('end', () => {
      if (client === c) client = null;
      if (!closed) schedule();
    });
    c.on('notification', (n) => {
      if (n.channel === channel) handlers.onNotify(n.payload ?? '');
    });
    try {
      await c.connect();
      await c.query(`LISTEN ${channel}`);
    } catch (err) {
      await c.end().catch(() => undefined);
      if (!closed) logger.warn({ err: (err as Error).message, channel }, 'listen: cannot connect to Postgres; retrying');
      schedule();
      return;
    }
    if (closed) {
      await c.end().catch(() => undefined);
      return;
    }
    client = c;
    delayMs = 100;
    markReady();
    if (reconnecting) handlers.onReconnect();
  };

  const schedule = () => {
    if (retry || closed) return;
    retry = setTimeout(() => {
      retry = null;
      void connect(true);
    }, delayMs);
    delayMs = Math.min(delayMs * 2, 5_000);
  };

  void connect(false);
  return {
    ready,
    async close() {
      closed = true;
      if (retry) clearTimeout(retry);
      await client?.end().catch(() => undefined);
    },
  };
}
