import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { ConfigError } from '../../src/config';
import { forEachLine } from '../../src/dev/log-lines';
import { spawnManaged, type ManagedProcess } from '../../src/dev/processes';
import { withWorkflowBundle } from '../../src/temporal/workflow-bundle';
import { leadPhones, OutdialTestStack } from '../helpers/outdial';

const ROOT = path.resolve(__dirname, '../..');
const run = promisify(execFile);
// Jest's own processes run no TypeScript loader; the worker's child gets the one `npm run worker` has.
const TSX_FLAGS = ['--import', 'tsx'];

/**
 * The worker bundles its workflows in a child process (webpack's memory leaves with it) or loads the
 * prebuilt file WORKFLOW_BUNDLE_PATH names; either way real workers dial real runs with that code.
 */
describe('the workflow bundle', () => {
  let stack: OutdialTestStack;
  let dir: string;
  const started: ManagedProcess[] = [];

  beforeAll(async () => {
    stack = await OutdialTestStack.start({ carrier: { defaultScript: { dialMs: 2, ringMs: 5, talkMs: 10 } } });
    dir = mkdtempSync(path.join(os.tmpdir(), 'outdial-bundle-test-'));
  });

  afterAll(async () => {
    await Promise.all(started.map((p) => p.stop()));
    await stack?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** Starts src/worker.ts as its own process on the stack's task queue with `env` added. */
  function spawnWorker(env: NodeJS.ProcessEnv): { proc: ManagedProcess; stderr: () => string; started: Promise<void> } {
    const proc = spawnManaged(process.execPath, [...TSX_FLAGS, path.join(ROOT, 'src/worker.ts')], { cwd: ROOT, env: { ...stack.workerProcessEnv(), LOG_LEVEL: 'info', ...env } });
    started.push(proc);
    let stderr = '';
    forEachLine(proc.child.stderr, (line) => (stderr += `${line}\n`));
    const ready = new Promise<void>((resolve, reject) => {
      forEachLine(proc.child.stdout, (line) => line.includes('worker started') && resolve());
      void proc.exited.then((code) => reject(new Error(`worker process exited (${code}): ${stderr}`)));
    });
    ready.catch(() => undefined);
    return { proc, stderr: () => stderr, started: ready };
  }

  async function dialsRun(prefix: string) {
    const business = await stack.createBusiness();
    const created = await stack.createRun(business.id, leadPhones(3, prefix));
    const done = await stack.runResult(created);
    return { status: done.status, calls: stack.carrier.calls().filter((c) => c.from === business.callerId).length };
  }

  test('npm run bundle:workflows writes a bundle that a worker process started with WORKFLOW_BUNDLE_PATH runs', async () => {
    const file = path.join(dir, 'workflows.js');
    await run('npm', ['run', '--silent', 'bundle:workflows', '--', file], { cwd: ROOT });
    expect(statSync(file).size).toBeGreaterThan(100_000);
    const worker = spawnWorker({ WORKFLOW_BUNDLE_PATH: file });
    await worker.started;
    expect(await dialsRun('+1415667')).toEqual({ status: 'completed', calls: 3 });
    // The prebuilt file is the deployment's own: the worker keeps it.
    expect(existsSync(file)).toBe(true);
    // Stopped before the next test's in-process worker takes the stack's task queue.
    worker.proc.child.kill('SIGTERM');
    expect(await worker.proc.exited).toBe(0);
  });

  test('bundled in a child process: a worker created with it dials a run, and the temp file is gone once the worker exists', async () => {
    let codePath = '';
    let bytesWhileCreating = 0;
    await withWorkflowBundle({ execArgv: TSX_FLAGS }, async (bundle) => {
      codePath = bundle.codePath;
      bytesWhileCreating = statSync(codePath).size;
      return stack.startWorker({}, bundle);
    });
    expect(bytesWhileCreating).toBeGreaterThan(100_000);
    expect(path.dirname(codePath).startsWith(os.tmpdir())).toBe(true);
    expect([existsSync(codePath), existsSync(path.dirname(codePath))]).toEqual([false, false]);
    expect(await dialsRun('+1415666')).toEqual({ status: 'completed', calls: 3 });
  });

  test('a bundler child that fails rejects with one line holding its error, and no worker is created', async () => {
    let used = false;
    const failing = withWorkflowBundle({ execArgv: [...TSX_FLAGS, '--require', '/nonexistent/preload.js'] }, async () => {
      used = true;
    });
    const err = (await failing.catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(Error);
    expect(err.message).toMatch(/^bundling the workflows in a child process failed \(exit code 1\): .*Cannot find module '\/nonexistent\/preload\.js'/);
    expect(err.message).not.toContain('\n');
    expect(used).toBe(false);
  });

  test('WORKFLOW_BUNDLE_PATH naming no file: the worker process exits 1 with one line naming the setting and the path', async () => {
    const missing = path.join(dir, 'no-such-bundle.js');
    const worker = spawnWorker({ WORKFLOW_BUNDLE_PATH: missing });
    expect(await worker.proc.exited).toBe(1);
    const lines = worker.stderr().trim().split('\n');
    expect(lines).toEqual([
      `outdial worker: Configuration error: WORKFLOW_BUNDLE_PATH is invalid (${JSON.stringify(missing)}): no such file; set it to a workflow bundle written by \`npm run bundle:workflows -- <file>\`, or unset it to bundle the workflows at start`,
    ]);
  });

  test('WORKFLOW_BUNDLE_PATH naming a directory is refused before any worker is created', async () => {
    const folder = path.join(dir, 'a-folder');
    mkdirSync(folder);
    let used = false;
    const err = await withWorkflowBundle({ prebuiltPath: folder }, async () => {
      used = true;
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).message).toMatch(/^Configuration error: WORKFLOW_BUNDLE_PATH is invalid \(".*a-folder"\): not a file; /);
    expect(used).toBe(false);
  });
});
