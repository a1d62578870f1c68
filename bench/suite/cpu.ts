/**
 * CPU time of OS processes and their descendants, from /proc (Linux): user + system, plus what
 * their exited children were charged (a Postgres backend that ended is counted in the postmaster).
 */
import { readdirSync, readFileSync } from 'node:fs';

const TICK_MS = 10; // USER_HZ is 100 on Linux

interface Stat {
  pid: number;
  ppid: number;
  ms: number;
}

function stats(): Stat[] {
  const out: Stat[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const text = readFileSync(`/proc/${name}/stat`, 'utf8');
      // Fields after the command name (which may hold spaces), from field 3 on.
      const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
      out.push({ pid: Number(name), ppid: Number(f[1]), ms: (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) * TICK_MS });
    } catch {
      // The process ended meanwhile.
    }
  }
  return out;
}

/** The first process whose command line contains every one of `parts`. */
export function findPid(parts: string[]): number | undefined {
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const cmdline = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0');
      if (parts.every((p) => cmdline.includes(p))) return Number(name);
    } catch {
      // The process ended meanwhile.
    }
  }
  return undefined;
}

/** CPU ms so far of each named process tree. */
export function cpuMs(roots: Record<string, number | undefined>): Record<string, number> {
  const all = stats();
  const children = new Map<number, Stat[]>();
  for (const s of all) children.set(s.ppid, [...(children.get(s.ppid) ?? []), s]);
  const tree = (pid: number): number => (all.find((s) => s.pid === pid)?.ms ?? 0) + (children.get(pid) ?? []).reduce((n, c) => n + tree(c.pid), 0);
  return Object.fromEntries(Object.entries(roots).map(([name, pid]) => [name, pid === undefined ? 0 : tree(pid)]));
}

/** CPU ms each tree used between two readings. */
export const cpuDelta = (before: Record<string, number>, after: Record<string, number>) =>
  Object.fromEntries(Object.keys(after).map((k) => [k, after[k]! - (before[k] ?? 0)]));

/** This process's CPU ms so far: the bench's own work, the sandbox carrier it hosts included. */
export function ownCpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

/**
 * The whole machine's CPU so far, from the first line of /proc/stat, in ms summed over its cores:
 * busy (neither idle nor waiting on I/O), all, and stolen by the hypervisor (counted in busy).
 */
export function machineCpuMs(): { busy: number; all: number; steal: number } {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
  const [user, nice, system, idle, iowait, irq, softirq, steal] = fields as [number, number, number, number, number, number, number, number];
  const all = user + nice + system + idle + iowait + irq + softirq + steal;
  return { busy: (all - idle - iowait) * TICK_MS, all: all * TICK_MS, steal: steal * TICK_MS };
}
