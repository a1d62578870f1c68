import { fork } from 'node:child_process';
import { constants } from 'node:fs';
import { access, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { bundleWorkflowCode, DefaultLogger, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { ConfigError, unusableSetting } from '../config';

export const WORKFLOWS_PATH = require.resolve('../workflows');

/** The script that bundles in a child process (and, run directly, prebuilds a bundle): .ts under tsx, .js in dist. */
const BUNDLER_ENTRY = require.resolve('./bundle-workflows');

/** The one way Outdial's workflows are bundled (webpack; a few seconds and ~100 MB that the process never gives back). */
export function bundleOutdialWorkflows(): Promise<WorkflowBundleWithSourceMap> {
  return bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: new DefaultLogger('WARN') });
}

/** Writes the bundle to `file`: what WORKFLOW_BUNDLE_PATH may point at. */
export async function writeWorkflowBundle(file: string): Promise<void> {
  const { code } = await bundleOutdialWorkflows();
  await writeFile(file, code);
}

export interface WorkflowBundleOptions {
  /** WORKFLOW_BUNDLE_PATH: a prebuilt bundle; unset: bundle now in a child process. */
  prebuiltPath?: string;
  /** Node flags of the child (a TypeScript loader under tsx); default: this process's own. */
  execArgv?: string[];
}

/**
 * Hands `use` the worker's `workflowBundle` option: the prebuilt file, or a bundle made in a child
 * process (so webpack's memory leaves with it) in a fresh temp dir, removed once `use` is done (the
 * SDK reads the file in `Worker.create`).
 */
export async function withWorkflowBundle<T>(opts: WorkflowBundleOptions, use: (bundle: { codePath: string }) => Promise<T>): Promise<T> {
  if (opts.prebuiltPath !== undefined) {
    await checkPrebuiltBundle(opts.prebuiltPath);
    return use({ codePath: opts.prebuiltPath });
  }
  const dir = await mkdtemp(path.join(os.tmpdir(), 'outdial-workflow-bundle-'));
  try {
    const codePath = path.join(dir, 'workflows.js');
    await bundleInChildProcess(codePath, opts.execArgv ?? process.execArgv);
    return await use({ codePath });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function checkPrebuiltBundle(file: string): Promise<void> {
  try {
    if (!(await stat(file)).isFile()) throw unusableSetting('WORKFLOW_BUNDLE_PATH', file, 'not a file');
    await access(file, constants.R_OK);
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'the file is not readable (permission denied)' : (err as Error).message;
    throw unusableSetting('WORKFLOW_BUNDLE_PATH', file, reason);
  }
}

function bundleInChildProcess(outFile: string, execArgv: string[]): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const child = fork(BUNDLER_ENTRY, [outFile], { execArgv, stdio: ['ignore', 'inherit', 'pipe', 'ipc'] });
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr = (stderr + chunk).slice(0, 100_000)));
    child.once('error', (err) => reject(new Error(`bundling the workflows: could not start a child process: ${err.message}`)));
    child.once('close', (code, signal) => {
      if (code === 0) {
        // The bundler's warnings, if any, as it printed them.
        if (stderr) process.stderr.write(stderr);
        resolve();
      } else {
        reject(new Error(`bundling the workflows in a child process failed (${signal ?? `exit code ${code}`}): ${firstErrorLine(stderr)}`));
      }
    });
  });
}

/** The line of a child's stderr that says what went wrong (a crash prints source lines before its error). */
function firstErrorLine(stderr: string): string {
  const lines = stderr.split('\n').map((l) => l.trim()).filter((l) => l.length > 0);
  return lines.find((l) => /error|failed/i.test(l)) ?? lines[0] ?? 'no output';
}
