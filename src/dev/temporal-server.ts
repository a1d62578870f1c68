import { Connection } from '@temporalio/client';
import { OUTDIAL_SEARCH_ATTRIBUTES } from '../search-attributes';
import { spawnManaged, waitUntil, type ManagedProcess } from './processes';

export interface TemporalDevServerOptions {
  cliPath: string;
  port: number;
  /** Web UI port; omit for a headless server (tests). */
  uiPort?: number;
  /** SQLite file that keeps workflows across restarts; omit for in-memory. */
  dbFilename?: string;
  namespace?: string;
  dynamicConfig?: Record<string, string | number | boolean>;
  onOutput?: (line: string) => void;
}

export interface TemporalDevServer {
  address: string;
  uiUrl?: string;
  process: ManagedProcess;
  stop(): Promise<void>;
}

/**
 * Starts the real Temporal server (CLI dev server) with Outdial's search attributes registered,
 * and resolves once its frontend answers gRPC.
 */
export async function startTemporalDevServer(opts: TemporalDevServerOptions): Promise<TemporalDevServer> {
  const address = `127.0.0.1:${opts.port}`;
  const args = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(opts.port), '--log-level', 'error'];
  if (opts.uiPort) args.push('--ui-port', String(opts.uiPort));
  else args.push('--headless');
  if (opts.dbFilename) args.push('--db-filename', opts.dbFilename, '--sqlite-pragma', 'journal_mode=WAL');
  if (opts.namespace && opts.namespace !== 'default') args.push('--namespace', opts.namespace);
  for (const key of OUTDIAL_SEARCH_ATTRIBUTES) args.push('--search-attribute', `${key.name}=Keyword`);
  for (const [k, v] of Object.entries(opts.dynamicConfig ?? {})) args.push('--dynamic-config-value', `${k}=${JSON.stringify(v)}`);

  const proc = spawnManaged(opts.cliPath, args, {});
  let output = '';
  const collect = (chunk: Buffer) => {
    const text = chunk.toString();
    output = (output + text).slice(-4000);
    for (const line of text.split('\n')) if (line.trim()) opts.onOutput?.(line);
  };
  proc.child.stdout?.on('data', collect);
  proc.child.stderr?.on('data', collect);

  let exitedEarly = false;
  void proc.exited.then(() => (exitedEarly = true));
  try {
    await waitUntil(
      async () => {
        if (exitedEarly) throw new Error(`temporal exited: ${output.trim().split('\n').slice(-3).join(' | ')}`);
        const connection = await Connection.connect({ address, connectTimeout: 1000 });
        try {
          await connection.workflowService.getSystemInfo({});
          return true;
        } finally {
          await connection.close();
        }
      },
      { timeoutMs: 60_000, what: `Temporal dev server on ${address}`, intervalMs: 200 },
    );
  } catch (err) {
    await proc.stop(2000);
    throw err;
  }
  return {
    address,
    ...(opts.uiPort ? { uiUrl: `http://127.0.0.1:${opts.uiPort}` } : {}),
    process: proc,
    stop: () => proc.stop(10_000),
  };
}
