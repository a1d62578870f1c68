import { mkdtempSync, rmSync, writeFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from '../../src/dev/processes';
import { cliEnv, progressLines, runCli, type CliResult } from '../helpers/cli';
import { leadPhones, OutdialTestStack, pollFor, type RunView } from '../helpers/outdial';

/**
 * The `outdial` CLI as a user runs it: its own process (node, the bin, tsx), against a real API on the
 * suite's Temporal and Postgres with an in-process worker and the sandbox carrier. What it did is read
 * back through the API and the database, not from what it printed.
 */
describe('outdial CLI', () => {
  let stack: OutdialTestStack;
  let dir: string;
  let admin: NodeJS.ProcessEnv;
  const cli = (args: string[], env = admin) => runCli(args, env);
  /** stderr without the plain progress lines: what the CLI had to say. */
  const messages = (res: CliResult) => res.stderr.filter((l) => !/^(upload|progress) /.test(l));
  /** A command that must succeed: its stdout parsed as JSON. */
  async function json<T = Record<string, unknown>>(args: string[], env = admin): Promise<T> {
    const res = await cli([...args, '--json'], env);
    expect({ code: res.code, stderr: messages(res) }).toEqual({ code: 0, stderr: [] });
    return JSON.parse(res.stdout.join('\n')) as T;
  }
  /** A command that must fail: its one stderr line. */
  function failure(res: CliResult): string {
    expect(res.code).toBe(1);
    expect(messages(res)).toHaveLength(1);
    return messages(res)[0]!;
  }
  function csvFile(name: string, lines: string[]): string {
    const file = path.join(dir, name);
    writeFileSync(file, `${lines.join('\n')}\n`);
    return file;
  }

  beforeAll(async () => {
    stack = await OutdialTestStack.start({ wakeFallbackSeconds: 3600, carrier: { defaultScript: { dialMs: 1, ringMs: 2, talkMs: 3 } } });
    await stack.startWorker();
    dir = mkdtempSync(path.join(tmpdir(), 'outdial-cli-'));
    admin = cliEnv(stack.apiUrl, stack.adminKey);
  });
  afterAll(async () => {
    await stack.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('businesses create and show: the flags become the business, as the API shows it', async () => {
    const business = await json<{ id: string }>([
      'businesses',
      'create',
      '--name',
      'Acme Dental',
      '--caller-id',
      '+14155550100',
      '--caller-ids',
      '+14155550100,+14155550101',
      '--max-concurrent-calls',
      '7',
      '--reserved-direct-slots',
      '2',
      '--time-zone',
      'America/Phoenix',
      '--twiml',
      '<Response><Say>Hi</Say></Response>',
      '--always-open',
    ]);
    const shown = (await stack.api('GET', `/v1/businesses/${business.id}`)).body.business;
    expect(shown).toMatchObject({
      name: 'Acme Dental',
      callerIds: ['+14155550100', '+14155550101'],
      maxConcurrentCalls: 7,
      reservedDirectSlots: 2,
      timeZone: 'America/Phoenix',
      voiceApp: { twiml: '<Response><Say>Hi</Say></Response>' },
      callingWindow: { alwaysOpen: true },
    });
    // Without --json: one `field: value` line per field.
    const plain = await cli(['businesses', 'show', business.id]);
    expect(plain.code).toBe(0);
    expect(plain.stdout[0]).toMatch(new RegExp(`^id: +${business.id}$`));
    expect(plain.stdout).toContainEqual(expect.stringMatching(/^maxConcurrentCalls: +7$/));
  });

  test('keys create, list and revoke: the minted secret acts as its business until revoked', async () => {
    const business = await stack.createBusiness();
    const other = await stack.createBusiness();
    const minted = await json<{ id: string; secret: string; prefix: string }>(['keys', 'create', business.id, '--name', 'ci']);
    const asBusiness = cliEnv(stack.apiUrl, minted.secret);
    expect(await json<{ id: string }>(['businesses', 'show', business.id], asBusiness)).toMatchObject({ id: business.id });
    expect(failure(await cli(['businesses', 'show', other.id], asBusiness))).toBe(`outdial: business ${other.id} does not exist (HTTP 404 not_found)`);

    const listed = await json<{ id: string; name: string; prefix: string; revokedAt: string | null }[]>(['keys', 'list', business.id]);
    expect(listed).toEqual([expect.objectContaining({ id: minted.id, name: 'ci', prefix: minted.prefix, revokedAt: null })]);
    const table = await cli(['keys', 'list', business.id]);
    expect(table.stdout[0]).toMatch(/^ID\s+NAME\s+PREFIX/);
    expect(table.stdout[1]).toContain(minted.id);

    expect(await json(['keys', 'revoke', business.id, minted.id])).toMatchObject({ id: minted.id, revokedAt: expect.any(String) });
    const refused = failure(await cli(['businesses', 'show', business.id], asBusiness));
    expect(refused).toMatch(/^outdial: .+ \(HTTP 401 \w+\)$/);
    expect((await stack.api<{ apiKeys: { revokedAt: string | null }[] }>('GET', `/v1/businesses/${business.id}/api-keys`)).body.apiKeys[0]!.revokedAt).not.toBeNull();
  });

  test('dnc add, list, check and remove on a business list and on the operator-wide list', async () => {
    const business = await stack.createBusiness();
    expect(await json(['dnc', 'add', '+14155552001', '+1 (415) 555-2002', '--business', business.id, '--reason', 'asked'])).toEqual({ added: 2, alreadyListed: 0 });
    const listed = (await stack.api<{ numbers: { phone: string; reason: string }[] }>('GET', `/v1/businesses/${business.id}/do-not-call`)).body.numbers;
    expect(listed.map((n) => [n.phone, n.reason])).toEqual([
      ['+14155552001', 'asked'],
      ['+14155552002', 'asked'],
    ]);
    expect((await json<{ phone: string }[]>(['dnc', 'list', '--business', business.id])).map((n) => n.phone)).toEqual(['+14155552001', '+14155552002']);
    // --limit pages through the API's pages up to the limit.
    expect(await json<unknown[]>(['dnc', 'list', '--business', business.id, '--limit', '1'])).toHaveLength(1);
    expect(await json(['dnc', 'check', '+14155552002', '--business', business.id])).toMatchObject({ listed: true });
    expect(await json(['dnc', 'remove', '+14155552002', '--business', business.id])).toEqual({ removed: '+14155552002' });
    expect((await stack.api('GET', `/v1/businesses/${business.id}/do-not-call/+14155552002`)).body).toMatchObject({ listed: false });
    expect(failure(await cli(['dnc', 'remove', '+14155552002', '--business', business.id]))).toBe(
      'outdial: +14155552002 is not on this do-not-call list (HTTP 404 not_found)',
    );

    const global = '+14155552093';
    await json(['dnc', 'add', global]);
    expect((await stack.api('GET', `/v1/do-not-call/${encodeURIComponent(global)}`)).body).toMatchObject({ listed: true, entries: [{ list: 'global' }] });
    await json(['dnc', 'remove', global]);
    expect((await stack.api('GET', `/v1/do-not-call/${encodeURIComponent(global)}`)).body).toMatchObject({ listed: false });
  });

  test('runs create uploads the CSV as a stream (plain upload lines count its bytes), flags become run settings, columns variables', async () => {
    const business = await stack.createBusiness({ maxConcurrentCalls: 5 });
    const phones = leadPhones(300, '+1415610');
    const file = csvFile('leads.csv', ['Mobile,Name,First Name,Plan', ...phones.map((p, i) => `${p},Lead ${i},"Ada, ${i}",${i % 3 ? 'gold' : ''}`)]);
    const res = await cli([
      'runs',
      'create',
      business.id,
      file,
      '--phone-column',
      'Mobile',
      '--max-concurrent-calls',
      '2',
      '--voice-url',
      'https://voice.example.com/app',
      '--voice-method',
      'GET',
      '--retries',
      '{"busy":{"maxAttempts":2,"delaySeconds":1}}',
      '--no-watch',
    ]);
    expect(res.code).toBe(0);
    const runId = /^created run (\S+) \(300 leads\)$/.exec(res.stdout[0] ?? '')?.[1];
    expect(runId).toBeDefined();
    const upload = progressLines(res.stderr, 'upload');
    expect(upload.at(-1)).toEqual({ file, sent: String(statSync(file).size), total: String(statSync(file).size) });

    const run = await stack.getRun(runId!);
    expect(run).toMatchObject({
      jobs: expect.objectContaining({ total: 300 }),
      maxConcurrentCalls: 2,
      voiceApp: { url: 'https://voice.example.com/app', method: 'GET' },
      retries: { busy: { maxAttempts: 2, delaySeconds: 1, backoff: 1 } },
    });
    const leads = await stack.database.pool.query(
      'SELECT l.phone, l.name, l.variables FROM leads l JOIN outbound_call_jobs j ON j.lead_id = l.id WHERE j.run_id = $1 ORDER BY j.position',
      [runId],
    );
    expect(leads.rows).toHaveLength(300);
    expect(leads.rows[4]).toEqual({ phone: phones[4], name: 'Lead 4', variables: { first_name: 'Ada, 4', plan: 'gold' } });
    expect(leads.rows[3]).toEqual({ phone: phones[3], name: 'Lead 3', variables: { first_name: 'Ada, 3' } });
  });

  test('pause, resume, add-leads, close and cancel change the run as the API shows it', async () => {
    const business = await stack.createBusiness();
    // A run that waits for its start time: nothing dials while the commands act on it.
    const startAt = new Date(Date.now() + 3_600_000).toISOString();
    const file = csvFile('later.csv', ['phone', ...leadPhones(3, '+1415611')]);
    const created = await json<{ run: { id: string; keepOpen: boolean } }>(['runs', 'create', business.id, file, '--start-at', startAt, '--keep-open', '--no-watch']);
    expect(created.run.keepOpen).toBe(true);
    const runId = created.run.id;
    await pollFor(() => stack.getRun(runId), (r) => r.status === 'running');

    expect(await cli(['pause', runId])).toEqual({ code: 0, stdout: [`run ${runId} paused`], stderr: [] });
    expect((await stack.getRun(runId)).status).toBe('paused');
    // Leads added to the paused run: one number it holds is merged, the new ones follow its own.
    const more = csvFile('more.csv', ['Number,first_name', ...leadPhones(2, '+1415612').map((p) => `${p},Kim`), `${leadPhones(1, '+1415611')[0]!},`]);
    const addedRes = await cli(['runs', 'add-leads', runId, more, '--phone-column', 'Number']);
    expect({ code: addedRes.code, stdout: addedRes.stdout, stderr: messages(addedRes) }).toEqual({ code: 0, stdout: [`added 2 leads to run ${runId} (5 in all, 1 duplicates merged)`], stderr: [] });
    const listed = await stack.database.pool.query('SELECT l.phone, l.variables FROM outbound_call_jobs j JOIN leads l ON l.id = j.lead_id WHERE j.run_id = $1 ORDER BY j.position', [runId]);
    expect(listed.rows.slice(3)).toEqual(leadPhones(2, '+1415612').map((phone) => ({ phone, variables: { first_name: 'Kim' } })));
    expect(await json(['resume', runId])).toMatchObject({ id: runId, status: 'running' });
    expect((await stack.getRun(runId)).status).toBe('running');
    // Resuming a running run is refused by the API: its reason, in one line.
    expect(failure(await cli(['resume', runId]))).toMatch(new RegExp(`^outdial: cannot resume run ${runId}: .+ \\(HTTP 409 invalid_transition\\)$`));

    expect(await cli(['close', runId])).toEqual({ code: 0, stdout: [`run ${runId} closed (running)`], stderr: [] });
    expect((await stack.database.pool.query('SELECT keep_open FROM bulk_call_runs WHERE id = $1', [runId])).rows[0].keep_open).toBe(false);
    expect((await cli(['cancel', runId])).code).toBe(0);
    const canceled = await pollFor(() => stack.getRun(runId), (r: RunView) => r.status === 'canceled');
    expect(canceled.jobs).toMatchObject({ total: 5, canceled: 5 });
    expect(stack.carrier.calls({ from: business.callerId })).toHaveLength(0);
    // A canceled run takes no more: the API's reason, in one line.
    expect(failure(await cli(['runs', 'add-leads', runId, more]))).toMatch(new RegExp(`^outdial: run ${runId} is canceled: it takes no more leads; nothing was added \\(HTTP 409 run_not_accepting_leads\\)$`));
  });

  test('a bad CSV, bad settings and an unknown business are one error line each, exit 1, and create nothing', async () => {
    const business = await stack.createBusiness();
    const runsOf = async () => Number((await stack.database.pool.query('SELECT count(*) FROM bulk_call_runs WHERE business_id = $1', [business.id])).rows[0].count);
    const bad = csvFile('bad.csv', ['phone,note', '+14156120001,a', '+1415,b']);
    expect(failure(await cli(['runs', 'create', business.id, bad, '--no-watch']))).toMatch(
      /^outdial: 1 problem in the CSV, the first on line 3, column phone: .+; nothing was created \(HTTP 400 invalid_leads\)$/,
    );
    // Refused from the query alone, before the body is read: the upload still ends in the API's answer.
    const big = csvFile('big.csv', ['phone', ...leadPhones(5_000, '+1415613')]);
    expect(failure(await cli(['runs', 'create', business.id, big, '--options', '{"maxConcurrentCalls":0}', '--no-watch']))).toMatch(
      /^outdial: invalid options: maxConcurrentCalls: .+ \(HTTP 400 invalid_request\)$/,
    );
    expect(failure(await cli(['runs', 'create', '7b0e6c2e-8d5f-4d0a-9a43-2c1e1f3b9d10', big, '--no-watch']))).toBe(
      'outdial: business 7b0e6c2e-8d5f-4d0a-9a43-2c1e1f3b9d10 does not exist (HTTP 404 not_found)',
    );
    expect(failure(await cli(['runs', 'create', business.id, path.join(dir, 'missing.csv')]))).toBe(`outdial: cannot read ${path.join(dir, 'missing.csv')}: no such file`);
    expect(await runsOf()).toBe(0);
  });

  test('no key, or no API at the URL: one line that says what to set', async () => {
    expect(failure(await cli(['businesses', 'show', 'x'], cliEnv(stack.apiUrl, undefined)))).toBe(
      'outdial: no API key: pass --key or set OUTDIAL_API_KEY (npm start prints one)',
    );
    const closed = `http://127.0.0.1:${await freePort()}`;
    expect(failure(await cli(['runs', 'show', 'x'], cliEnv(closed, stack.adminKey)))).toBe(
      `outdial: cannot reach the API at ${closed} (connection refused); is it running? Set --api-url or OUTDIAL_API_URL`,
    );
    // Flags win over the environment.
    const byFlags = await cli(['--api-url', stack.apiUrl, '--key', stack.adminKey, 'businesses', 'show', 'no-such-id'], cliEnv(closed, 'wrong'));
    expect(failure(byFlags)).toBe('outdial: business no-such-id does not exist (HTTP 404 not_found)');
  });
});
