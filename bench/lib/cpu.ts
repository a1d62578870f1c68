/**
 * CPU time, for benchmarks on a shared machine where wall-clock time is noisy: this process's, and
 * the Postgres server's (the postmaster listening on a port, its live children, and the children it
 * has reaped), from /proc (Linux only).
 */
import { readdirSync, readFileSync } from 'node:fs';

const TICKS_PER_SECOND = 100;

/** utime, stime, cutime, cstime of a process, in ticks (fields 14-17 of /proc/<pid>/stat). */
function ticksOf(pid: number): { own: number; reaped: number; ppid: number } | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const n = (i: number) => Number(fields[i - 3]);
    return { own: n(14) + n(15), reaped: n(16) + n(17), ppid: n(4) };
  } catch {
    return null;
  }
}

function pids(): number[] {
  return readdirSync('/proc').filter((name) => /^\d+$/.test(name)).map(Number);
}

/** The postmaster serving `port`: a `postgres` process with `-p <port>` on its command line. */
export function postmasterOf(port: number): number {
  for (const pid of pids()) {
    try {
      const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      if (args[0]?.endsWith('/postgres') && args[args.indexOf('-p') + 1] === String(port)) return pid;
    } catch {
      // gone meanwhile
    }
  }
  throw new Error(`no postgres process listens on port ${port}`);
}

/** Seconds of CPU the Postgres server has used so far: the postmaster, its children alive now, and those it reaped. */
export function postgresCpuSeconds(postmaster: number): number {
  const main = ticksOf(postmaster);
  if (!main) throw new Error(`postmaster ${postmaster} is gone`);
  let ticks = main.own + main.reaped;
  for (const pid of pids()) {
    const t = pid === postmaster ? null : ticksOf(pid);
    if (t && t.ppid === postmaster) ticks += t.own;
  }
  return ticks / TICKS_PER_SECOND;
}

/** Seconds of CPU this process has used so far (user + system). */
export function ownCpuSeconds(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
}
