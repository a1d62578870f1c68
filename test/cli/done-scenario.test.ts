import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { cliEnv, progressLines, runCli, startCli } from '../helpers/cli';
import { leadPhones, OutdialTestStack, pollUntil } from '../helpers/outdial';
import { VoiceApp } from '../helpers/voice-app';

/**
 * The whole story with the CLI only: a business whose voice app is the caller's own server, a CSV of
 * 1,000 leads with extra columns uploaded and watched to the end over the live event stream (which is
 * dropped once on the way), every lead's columns reaching the voice app as variables, and `outdial
 * results` writing every lead's outcome.
 */
describe('outdial CLI on the live event stream: a 1,000-lead CSV from upload to results; a canceled watch', () => {
  let stack: OutdialTestStack;
  let voice: VoiceApp;
  let dir: string;
  /** Sockets of the live event streams (the test drops them) and the Last-Event-ID each request came with. */
  const eventStreams = new Set<Socket>();
  const resumedFrom: (string | undefined)[] = [];

  beforeAll(async () => {
    stack = await OutdialTestStack.start({ wakeFallbackSeconds: 3600, carrier: { defaultScript: { dialMs: 1, ringMs: 2, talkMs: 3 } } });
    stack.server.on('request', (req: IncomingMessage) => {
      if (!req.url?.includes('/events')) return;
      eventStreams.add(req.socket);
      resumedFrom.push(req.headers['last-event-id'] as string | undefined);
    });
    await stack.startWorker();
    voice = await VoiceApp.start(stack.carrier.authToken);
    dir = mkdtempSync(path.join(tmpdir(), 'outdial-cli-e2e-'));
  });
  afterAll(async () => {
    await stack.stop();
    await voice.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('upload, watch (through a dropped stream), every lead called with its columns, results for every lead', async () => {
    const env = cliEnv(stack.apiUrl, stack.adminKey);
    const created = await runCli(
      ['businesses', 'create', '--name', 'Bulk', '--caller-id', '+16505557001', '--max-concurrent-calls', '20', '--always-open', '--voice-url', `${voice.url}/voice`, '--json'],
      env,
    );
    expect(created.code).toBe(0);
    const business = JSON.parse(created.stdout.join('\n')) as { id: string };

    const phones = leadPhones(1000, '+1415620');
    const file = path.join(dir, 'leads.csv');
    const columns = (i: number) => ({ first_name: `Ada ${i}`, account: `A-${10_000 + i}`, plan: ['gold', 'silver', 'bronze'][i % 3]! });
    writeFileSync(file, ['phone,name,First Name,Account,Plan', ...phones.map((p, i) => `${p},Lead ${i},${Object.values(columns(i)).join(',')}`)].join('\n'));

    const watching = startCli(['runs', 'create', business.id, file, '--progress-interval', '100'], env);
    // Once the run is under way, its event stream is cut: the watch must pick it up again.
    await pollUntil(async () => progressLines(watching.stderr, 'progress').some((p) => Number(p.completed) > 0), 120_000);
    const linesBeforeDrop = progressLines(watching.stderr, 'progress').length;
    for (const socket of eventStreams) socket.destroy();
    const result = await watching.done;

    expect(result.code).toBe(0);
    const runId = /^created run (\S+) \(1000 leads\)$/.exec(result.stdout[0] ?? '')?.[1];
    expect(runId).toBeDefined();
    expect(result.stdout.at(-1)).toMatch(new RegExp(`^run ${runId} completed: 1000 leads, 1000 completed, 0 failed, 0 skipped`));

    // The plain progress lines move: completed never goes back, takes several values, ends at 1000; the
    // business's live calls never pass its limit.
    const progress = progressLines(result.stderr, 'progress');
    const completed = progress.map((p) => Number(p.completed));
    expect(completed).toEqual([...completed].sort((a, b) => a - b));
    expect(new Set(completed).size).toBeGreaterThanOrEqual(3);
    expect(progress.at(-1)).toMatchObject({ run: runId, status: 'completed', total: '1000', dialed: '1000', completed: '1000', failed: '0', limit: '20' });
    expect(Math.max(...progress.map((p) => Number(p.active)))).toBeLessThanOrEqual(20);
    expect(progress.length).toBeGreaterThan(linesBeforeDrop);
    // The watch came back resuming after the last event it had seen.
    expect(resumedFrom[0]).toBeUndefined();
    expect(resumedFrom.length).toBeGreaterThanOrEqual(2);
    expect(resumedFrom[1]).toEqual(expect.any(String));

    // Each lead was called once and its columns reached the voice app as variables.
    const fetches = voice.fetches.filter((f) => f.query.outdial_run_id === runId);
    expect(fetches).toHaveLength(1000);
    expect(fetches.every((f) => f.valid)).toBe(true);
    const byPhone = new Map(fetches.map((f) => [f.params.To ?? f.query.To, f.query]));
    phones.forEach((phone, i) => expect(byPhone.get(phone)).toMatchObject({ name: `Lead ${i}`, ...columns(i) }));

    // `outdial results` writes every lead's outcome, its variables as columns.
    const out = path.join(dir, 'results.csv');
    const results = await runCli(['results', runId!, '-o', out], env);
    expect(results.code).toBe(0);
    const rows = parse(readFileSync(out), { columns: true }) as Record<string, string>[];
    expect(rows).toHaveLength(1000);
    const rowOf = new Map(rows.map((r) => [r.phone, r]));
    phones.forEach((phone, i) =>
      expect(rowOf.get(phone)).toMatchObject({ name: `Lead ${i}`, status: 'completed', outcome: 'completed', attempts: '1', ...columns(i) }),
    );

    // A finished run: `watch` says how it ended and exits 0; the list commands find it.
    const watchedAgain = await runCli(['watch', runId!], env);
    expect(watchedAgain.code).toBe(0);
    expect(watchedAgain.stdout.at(-1)).toMatch(new RegExp(`^run ${runId} completed`));
    const listed = await runCli(['runs', 'list', business.id, '--status', 'completed', '--json'], env);
    expect(listed.code).toBe(0);
    expect((JSON.parse(listed.stdout.join('\n')) as { id: string }[]).map((r) => r.id)).toEqual([runId]);
    const everyBusiness = await runCli(['businesses', 'list', '--all', '--json'], env);
    expect(everyBusiness.code).toBe(0);
    expect((JSON.parse(everyBusiness.stdout.join('\n')) as { id: string }[]).map((b) => b.id)).toContain(business.id);
  });

  test('a watched run that is canceled ends the watch with exit code 2 and says so', async () => {
    const env = cliEnv(stack.apiUrl, stack.adminKey);
    const business = await stack.createBusiness();
    const file = path.join(dir, 'later.csv');
    writeFileSync(file, ['phone', ...leadPhones(5, '+1415621')].join('\n'));
    // It waits for its start time, so it is still running when the cancel comes.
    const startAt = new Date(Date.now() + 3_600_000).toISOString();
    const watching = startCli(['runs', 'create', business.id, file, '--start-at', startAt, '--progress-interval', '0'], env);
    await pollUntil(async () => progressLines(watching.stderr, 'progress').some((p) => p.status === 'running'));
    const runId = progressLines(watching.stderr, 'progress')[0]!.run!;
    expect((await runCli(['cancel', runId], env)).code).toBe(0);
    const result = await watching.done;
    expect(result.code).toBe(2);
    expect(result.stdout.at(-1)).toMatch(new RegExp(`^run ${runId} canceled: 5 leads, 0 completed, 0 failed, 5 skipped`));
    expect((await stack.getRun(runId)).status).toBe('canceled');
  });
});
