import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';

/** A child process that is stopped with SIGTERM, then SIGKILL after a grace period. */
export interface ManagedProcess {
  child: ChildProcess;
  exited: Promise<number | null>;
  stop(graceMs?: number): Promise<void>;
}

export function spawnManaged(command: string, args: string[], options: SpawnOptions = {}): ManagedProcess {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => resolve(code));
    child.once('error', () => resolve(null));
  });
  const stop = async (graceMs = 10_000) => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  };
  return { child, exited, stop };
}

/** The kernel's ephemeral range, which client sockets and `listen(0)` draw from. */
function ephemeralRange(): [number, number] {
  try {
    const [low, high] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (low && high) return [low, high];
  } catch {
    // Not Linux: assume IANA's dynamic range.
  }
  return [49152, 65535];
}

/**
 * A free TCP port on loopback for a server that is started later (or restarted on the same port).
 * Chosen below the ephemeral range: a port from that range can be taken meanwhile by any outgoing
 * connection or `listen(0)` of another process, which made parallel test files collide.
 */
export async function freePort(): Promise<number> {
  const [ephemeralLow] = ephemeralRange();
  const low = 10_000;
  const high = Math.max(low + 1_000, ephemeralLow);
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = low + Math.floor(Math.random() * (high - low));
    if (await isPortFree(port)) return port;
  }
  throw new Error(`no free port found between ${low} and ${high}`);
}

export function isPortFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}

/** Polls `probe` until it resolves true; used to wait for a server to come up, never as a test sleep. */
export async function waitUntil(probe: () => Promise<boolean>, opts: { timeoutMs: number; what: string; intervalMs?: number }) {
  const deadline = Date.now() + opts.timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      if (await probe()) return;
    } catch (err) {
      lastError = err;
    }
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 100));
  }
  const detail = lastError instanceof Error ? `: ${lastError.message}` : '';
  throw new Error(`${opts.what} did not come up within ${opts.timeoutMs} ms${detail}`);
}

/**
 * glibc malloc arenas of Outdial's Node processes, unless the environment sets MALLOC_ARENA_MAX: the
 * Temporal core's threads otherwise each grow an arena of their own (the idle worker's peak RSS
 * 236 → 216 MB). The Dockerfile sets the same.
 */
export const MALLOC_ARENA_MAX = process.env.MALLOC_ARENA_MAX ?? '2';
