import path from 'node:path';
import { forEachLine } from '../../src/dev/log-lines';
import { spawnManaged, type ManagedProcess } from '../../src/dev/processes';

const ROOT = path.resolve(__dirname, '../..');
export const CLI_BIN = path.join(ROOT, 'bin/outdial.mjs');

export interface CliResult {
  code: number | null;
  stdout: string[];
  stderr: string[];
}

export interface CliProcess {
  proc: ManagedProcess;
  /** Lines so far (they grow while the process runs). */
  stdout: string[];
  stderr: string[];
  done: Promise<CliResult>;
}

/** The environment of a CLI pointed at an API with a key (as `npm start` prints it), nothing else inherited. */
export function cliEnv(apiUrl: string, key: string | undefined): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, HOME: process.env.HOME, OUTDIAL_API_URL: apiUrl, ...(key === undefined ? {} : { OUTDIAL_API_KEY: key }) };
}

/** The real `outdial` bin as its own process (node, the bin, tsx): stdout and stderr are pipes, not a terminal. */
export function startCli(args: string[], env: NodeJS.ProcessEnv): CliProcess {
  const proc = spawnManaged(process.execPath, [CLI_BIN, ...args], { cwd: ROOT, env });
  const stdout: string[] = [];
  const stderr: string[] = [];
  forEachLine(proc.child.stdout, (line) => stdout.push(line));
  forEachLine(proc.child.stderr, (line) => stderr.push(line));
  // 'close' comes after the exit and after both pipes are drained: every line is in.
  const done = new Promise<CliResult>((resolve) => proc.child.once('close', (code) => resolve({ code, stdout, stderr })));
  return { proc, stdout, stderr, done };
}

export function runCli(args: string[], env: NodeJS.ProcessEnv): Promise<CliResult> {
  return startCli(args, env).done;
}

/** The `key=value` fields of the CLI's plain progress lines that start with `kind` (`progress`, `upload`). */
export function progressLines(lines: string[], kind: string): Record<string, string>[] {
  return lines
    .filter((l) => l.startsWith(`${kind} `))
    .map((l) => Object.fromEntries(l.split(' ').slice(1).map((kv) => kv.split('=', 2) as [string, string])));
}
