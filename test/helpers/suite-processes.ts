import { readdirSync, readFileSync } from 'node:fs';

/**
 * Every process the suite starts carries this variable (set in the global setup, inherited by Jest's
 * workers and everything they spawn), so the teardown can find what a test left running, wherever
 * it was reparented to.
 */
export const SUITE_MARKER = 'OUTDIAL_TEST_SUITE';

export interface SuiteProcess {
  pid: number;
  ppid: number;
  args: string;
}

function read(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null; // gone meanwhile, or not ours to read
  }
}

/** Live processes (not zombies) whose environment carries `marker`=`value`. */
export function processesMarked(value: string): SuiteProcess[] {
  const needle = `${SUITE_MARKER}=${value}`;
  const found: SuiteProcess[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const environ = read(`/proc/${entry}/environ`);
    if (!environ || !environ.split('\0').includes(needle)) continue;
    const stat = read(`/proc/${entry}/stat`);
    // stat: "pid (comm) state ppid ..."; comm may hold spaces, so read after the last ')'.
    const fields = stat?.slice(stat.lastIndexOf(')') + 2).split(' ') ?? [];
    if (fields[0] === 'Z' || fields[0] === 'X') continue;
    const args = (read(`/proc/${entry}/cmdline`) ?? '').split('\0').join(' ').trim();
    found.push({ pid: Number(entry), ppid: Number(fields[1]), args });
  }
  return found;
}
