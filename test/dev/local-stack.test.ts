import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { forEachLine } from '../../src/dev/log-lines';
import { postgresClusterDir } from '../../src/dev/postgres';
import { freePort, isPortFree, spawnManaged, type ManagedProcess } from '../../src/dev/processes';

const ROOT = path.resolve(__dirname, '../..');

/** `npm start` as a user runs it: its own process group, so Ctrl-C (SIGINT to the group) is faithful. */
async function startStack(env: NodeJS.ProcessEnv): Promise<{ proc: ManagedProcess; output: string[] }> {
  const output: string[] = [];
  const proc = spawnManaged('npm', ['start', '--silent'], { cwd: ROOT, env, detached: true });
  await new Promise<void>((resolve, reject) => {
    const onLine = (line: string) => {
      output.push(line);
      if (line.includes('Press Ctrl-C to stop everything.')) resolve();
    };
    forEachLine(proc.child.stdout, onLine);
    forEachLine(proc.child.stderr, onLine);
    void proc.exited.then((code) => reject(new Error(`npm start exited (${code}):\n${output.join('\n')}`)));
  });
  return { proc, output };
}

/** Ctrl-C: SIGINT to the whole process group, then wait until every process of the group is gone. */
async function ctrlC(proc: ManagedProcess): Promise<void> {
  const pgid = proc.child.pid!;
  process.kill(-pgid, 'SIGINT');
  await proc.exited;
  const deadline = Date.now() + 60_000;
  while (processGroupMembers(pgid).length > 0) {
    if (Date.now() > deadline) throw new Error(`still running after Ctrl-C:\n${processGroupMembers(pgid).join('\n')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function processGroupMembers(pgid: number): string[] {
  const ps = execFileSync('ps', ['-eo', 'pgid=,pid=,args='], { encoding: 'utf8' });
  return ps
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith(`${pgid} `));
}

/** The key `npm start` prints on its `export OUTDIAL_ADMIN_KEY=…` line. */
function printedAdminKey(output: string[]): string {
  const line = output.find((l) => l.includes('export OUTDIAL_ADMIN_KEY='));
  const key = line && /OUTDIAL_ADMIN_KEY=(\S+)/.exec(line)?.[1];
  if (!key) throw new Error(`npm start printed no admin key:\n${output.join('\n')}`);
  return key;
}

describe('where embedded Postgres keeps its data', () => {
  test('as root, a data directory the postgres user cannot reach moves under /var/tmp, with one line saying so', () => {
    const said: string[] = [];
    const privateDir = mkdtempSync(path.join(os.tmpdir(), 'outdial-private-'));
    chmodSync(privateDir, 0o700);
    const open = mkdtempSync(path.join(os.tmpdir(), 'outdial-open-'));
    chmodSync(open, 0o755);
    try {
      const moved = postgresClusterDir(path.join(privateDir, 'main/.data/postgres'), (l) => said.push(l));
      const kept = postgresClusterDir(path.join(open, '.data/postgres'), (l) => said.push(l));
      if (process.getuid?.() === 0) {
        expect(moved).toMatch(/^\/var\/tmp\/outdial-[0-9a-f]{12}\/postgres$/);
        expect(said).toEqual([expect.stringContaining(`cannot enter ${privateDir}`)]);
      } else {
        expect(moved).toBe(path.join(privateDir, 'main/.data/postgres'));
      }
      expect(kept).toBe(path.join(open, '.data/postgres'));
    } finally {
      rmSync(privateDir, { recursive: true, force: true });
      rmSync(open, { recursive: true, force: true });
    }
  });
});

describe('npm start (the local stack)', () => {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'outdial-stack-'));
  chmodSync(dataDir, 0o755);
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  test('serves /healthz with Postgres and Temporal up and the Web UI answering; Ctrl-C leaves nothing behind; a second start reuses the data', async () => {
    const ports = {
      PORT: await freePort(),
      POSTGRES_PORT: await freePort(),
      TEMPORAL_PORT: await freePort(),
      TEMPORAL_UI_PORT: await freePort(),
      SANDBOX_CARRIER_PORT: await freePort(),
      WORKER_METRICS_PORT: await freePort(),
    };
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, OUTDIAL_DATA_DIR: dataDir, LOG_LEVEL: 'info' };
    for (const [k, v] of Object.entries(ports)) env[k] = String(v);
    env.TEMPORAL_METRICS_ADDRESS = `127.0.0.1:${await freePort()}`;
    const api = `http://127.0.0.1:${ports.PORT}`;

    const first = await startStack(env);
    let businessId: string;
    let adminKey: string;
    try {
      expect(first.output.join('\n')).toContain(`Temporal Web UI     http://127.0.0.1:${ports.TEMPORAL_UI_PORT}`);
      expect(first.output.join('\n')).toContain(`npm run demo -- --api ${api}`);
      const health = await fetch(`${api}/healthz`);
      expect(health.status).toBe(200);
      expect(await health.json()).toEqual({ status: 'ok', postgres: { ok: true }, temporal: { ok: true } });
      expect((await fetch(`http://127.0.0.1:${ports.TEMPORAL_UI_PORT}/`)).status).toBe(200);
      adminKey = printedAdminKey(first.output);
      expect((await fetch(`${api}/v1/businesses`, { method: 'POST' })).status).toBe(401);
      const created = await fetch(`${api}/v1/businesses`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${adminKey}` },
        body: JSON.stringify({ name: 'Persisted', callerId: '+15005550006' }),
      });
      expect(created.status).toBe(201);
      businessId = ((await created.json()) as { business: { id: string } }).business.id;

      // The README's API examples, pasted in order with the printed key, work as written.
      const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
      const block = /## API\n[\s\S]*?```sh\n([\s\S]*?)```/.exec(readme)?.[1];
      expect(block).toBeDefined();
      const pasted = spawnSync('bash', ['-eo', 'pipefail', '-c', block!], {
        encoding: 'utf8',
        env: { PATH: process.env.PATH, HOME: process.env.HOME, OUTDIAL_ADMIN_KEY: adminKey, API: api, CARRIER: `http://127.0.0.1:${ports.SANDBOX_CARRIER_PORT}` },
        timeout: 60_000,
      });
      expect([pasted.status, pasted.stderr]).toEqual([0, '']);
      const answers = pasted.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, Record<string, unknown>>);
      const run = answers.find((a) => a.run)!.run!;
      // Four leads and a repeat, then one more and a repeat added (POST /v1/runs/:id/leads).
      expect(run).toMatchObject({ duplicatesMerged: 2, jobs: expect.objectContaining({ total: 5 }) });
      expect(answers.find((a) => a.call)!.call).toMatchObject({ direction: 'direct', to: '+14155551005' });
      expect(answers.find((a) => a.business)!.business).toMatchObject({ maxConcurrentCalls: 5, reservedDirectSlots: 1 });
      expect(answers.find((a) => 'added' in a)).toEqual({ added: 2, alreadyListed: 0 });
      expect(answers).toContainEqual(expect.objectContaining({ total: 2, queued: expect.any(Number) }));
      expect(answers.find((a) => a.error)!.error).toMatchObject({ code: 'do_not_call' });
      expect(answers.find((a) => a.apiKey && a.apiKey.revokedAt)).toBeDefined();
      expect(answers.at(-1)).toEqual({ status: 'ok', postgres: { ok: true }, temporal: { ok: true } });

      // The CLI's line, pasted as printed: `npx outdial` from the repository reaches this API with that key.
      const cliLine = first.output.find((l) => l.includes('export OUTDIAL_API_URL='))!;
      expect(cliLine.trim()).toBe(`export OUTDIAL_API_URL=${api} OUTDIAL_API_KEY=${adminKey}`);
      const shown = spawnSync('bash', ['-c', `${cliLine}; npx outdial businesses show ${businessId} --json`], {
        cwd: ROOT,
        encoding: 'utf8',
        env: { PATH: process.env.PATH, HOME: process.env.HOME },
        timeout: 60_000,
      });
      expect([shown.status, shown.stderr]).toEqual([0, '']);
      expect(JSON.parse(shown.stdout)).toMatchObject({ id: businessId, name: 'Persisted' });

      // A second start on the same ports says why in one line, and leaves the first untouched.
      const again = spawnManaged('npm', ['start', '--silent'], { cwd: ROOT, env });
      let stderr = '';
      forEachLine(again.child.stderr, (l) => (stderr += `${l}\n`));
      expect(await again.exited).toBe(1);
      expect(stderr).toMatch(new RegExp(`^outdial start: failed to start: port ${ports.PORT} for the API is in use \\(is Outdial already running\\?\\); free it or set PORT\n`));
      expect((await fetch(`${api}/healthz`)).status).toBe(200);
    } finally {
      await ctrlC(first.proc);
    }
    expect(first.output.join('\n')).toContain('Stopped.');
    for (const port of Object.values(ports)) expect(await isPortFree(port)).toBe(true);

    const second = await startStack(env);
    try {
      expect(second.output.join('\n')).not.toContain('Installing the Temporal CLI');
      // The development admin key is kept with the data: the same key works after a restart.
      expect(printedAdminKey(second.output)).toBe(adminKey);
      const again = await fetch(`${api}/v1/businesses/${businessId}`, { headers: { authorization: `Bearer ${adminKey}` } });
      expect(again.status).toBe(200);
    } finally {
      await ctrlC(second.proc);
    }
    for (const port of Object.values(ports)) expect(await isPortFree(port)).toBe(true);
  });
});
