import { randomUUID } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { forEachLine } from '../../src/dev/log-lines';
import { freePort, spawnManaged, waitUntil, type ManagedProcess } from '../../src/dev/processes';
import { leadPhones, OutdialTestStack } from '../helpers/outdial';

const ROOT = path.resolve(__dirname, '../..');

/**
 * Production runs what `npm run build` emits with plain node (the Dockerfile and docker-compose.yml):
 * the compiled worker bundles its workflows and dials a run, the compiled API serves, and each is the
 * process a signal reaches.
 */
describe('compiled entry points', () => {
  let stack: OutdialTestStack;
  const started: ManagedProcess[] = [];

  beforeAll(async () => {
    execFileSync('npm', ['run', '--silent', 'build'], { cwd: ROOT, stdio: 'pipe' });
    stack = await OutdialTestStack.start({ carrier: { defaultScript: { dialMs: 2, ringMs: 5, talkMs: 10 } } });
  });

  afterAll(async () => {
    await Promise.all(started.map((p) => p.stop()));
    await stack?.stop();
  });

  test('node dist/src/worker.js dials a run to completion and exits on SIGTERM', async () => {
    const worker = await stack.startWorkerProcess({ entry: path.join(ROOT, 'dist/src/worker.js') });
    started.push(worker);
    const business = await stack.createBusiness();
    const run = await stack.createRun(business.id, leadPhones(3, '+1415777'));
    const done = await stack.runResult(run);
    expect(done.status).toBe('completed');
    expect(stack.carrier.calls().filter((c) => c.from === business.callerId)).toHaveLength(3);
    worker.child.kill('SIGTERM');
    expect(await worker.exited).toBe(0);
  });

  test('node dist/src/server.js serves /healthz with Postgres and Temporal up, and the run page', async () => {
    const port = await freePort();
    const api = spawnManaged(process.execPath, [path.join(ROOT, 'dist/src/server.js')], {
      cwd: ROOT,
      env: { ...stack.workerProcessEnv(), PORT: String(port), OUTDIAL_ADMIN_KEYS: stack.adminKey },
    });
    started.push(api);
    let stderr = '';
    forEachLine(api.child.stderr, (line) => (stderr += `${line}\n`));
    let last = '';
    const healthy = async () => {
      last = await (await fetch(`http://127.0.0.1:${port}/healthz`)).text();
      return (JSON.parse(last) as { status: string }).status === 'ok';
    };
    try {
      await waitUntil(healthy, { timeoutMs: 60_000, what: 'the compiled API' });
    } catch (err) {
      throw new Error(`${(err as Error).message}; last /healthz: ${last || "none"}; stderr: ${stderr || "none"}`, { cause: err });
    }
    // Files beside the code (the run page's HTML) are part of the build too.
    const page = await fetch(`http://127.0.0.1:${port}/runs/${randomUUID()}`);
    expect([page.status, (await page.text()).includes('</html>')]).toEqual([200, true]);
    api.child.kill('SIGTERM');
    expect(await api.exited).toBe(0);
  });
});
