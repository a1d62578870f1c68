/**
 * The list routes and a run's results.csv, against a real stack: every page walk sees each row exactly
 * once in the documented order (compared with Postgres), filters select what the database says they
 * should, a business key sees only its own business, and bad cursors and filters are 400s.
 */
import { parse } from 'csv-parse/sync';
import { runResults } from '../../src/domain/runs/results-csv';
import { OutdialTestStack, pollUntil } from '../helpers/outdial';

type Page<T> = { data: T[]; nextCursor: string | null };
type ErrorBody = { error: { code: string; message: string } };

describe('list routes', () => {
  let stack: OutdialTestStack;
  let business: { id: string };
  let other: { id: string };
  let key: string;

  /** Every item of a list, following nextCursor from the first page; also how many pages it took. */
  async function walk<T>(path: string, limit: number, opts: { key?: string } = {}): Promise<{ items: T[]; pages: number }> {
    const items: T[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const sep = path.includes('?') ? '&' : '?';
      const res: { status: number; body: Page<T> } = await stack.api<Page<T>>(
        'GET',
        `${path}${sep}limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
        undefined,
        opts,
      );
      expect([path, res.status]).toEqual([path, 200]);
      expect(res.body.data.length).toBeLessThanOrEqual(limit);
      items.push(...res.body.data);
      cursor = res.body.nextCursor;
      pages++;
    } while (cursor);
    return { items, pages };
  }

  const ids = (rows: { id: string }[]) => rows.map((r) => r.id);

  beforeAll(async () => {
    stack = await OutdialTestStack.start({ carrier: { defaultScript: { dialMs: 2, ringMs: 5, talkMs: 10 } } });
    await stack.startWorker();
    business = await stack.createBusiness({ maxConcurrentCalls: 5 });
    other = await stack.createBusiness();
    const minted = await stack.api<{ apiKey: { secret: string } }>('POST', `/v1/businesses/${business.id}/api-keys`, { name: 'lists' });
    key = minted.body.apiKey.secret;
  });
  afterAll(async () => {
    await stack.stop();
  });

  test('runs: newest first, every run once across pages, status filter as the database says', async () => {
    // Runs that wait for a start far ahead stay running (or are canceled below): statuses that hold still.
    const startAt = new Date(Date.now() + 3_600_000).toISOString();
    const created: string[] = [];
    for (let i = 0; i < 7; i++) {
      const res = await stack.api<{ run: { id: string } }>('POST', `/v1/businesses/${business.id}/runs`, { startAt, leads: [{ phone: `+1212555${2100 + i}` }] }, { key });
      expect(res.status).toBe(201);
      created.push(res.body.run.id);
    }
    const statusOf = async () =>
      (await stack.database.pool.query<{ id: string; status: string }>('SELECT id, status FROM bulk_call_runs WHERE id = ANY($1)', [created])).rows;
    await pollUntil(async () => (await statusOf()).every((r) => r.status === 'running'));
    for (const id of created.slice(0, 2)) expect((await stack.api('POST', `/v1/runs/${id}/cancel`, undefined, { key })).status).toBe(200);
    await pollUntil(async () => (await statusOf()).filter((r) => r.status === 'canceled').length === 2);

    const inOrder = await stack.database.pool.query<{ id: string; status: string }>(
      'SELECT id, status FROM bulk_call_runs WHERE business_id = $1 ORDER BY created_at DESC, id DESC',
      [business.id],
    );
    const all = await walk<{ id: string; status: string; jobs: Record<string, number>; createdAt: string; finishedAt: string | null }>(
      `/v1/businesses/${business.id}/runs`,
      3,
      { key },
    );
    expect(ids(all.items)).toEqual(ids(inOrder.rows));
    expect(all.pages).toBe(Math.ceil(inOrder.rows.length / 3));
    expect(all.items.find((r) => r.id === created[6])).toMatchObject({ status: 'running', jobs: { total: 1, queued: 1 }, finishedAt: null });

    const canceled = await walk<{ id: string }>(`/v1/businesses/${business.id}/runs?status=canceled`, 50, { key });
    expect(ids(canceled.items).sort()).toEqual(created.slice(0, 2).sort());
    const live = await walk<{ id: string }>(`/v1/businesses/${business.id}/runs?status=running,paused`, 2, { key });
    expect(ids(live.items)).toEqual(ids(inOrder.rows.filter((r) => r.status === 'running' || r.status === 'paused')));
    // Repeated parameters mean the same as a comma list.
    const repeated = await walk<{ id: string }>(`/v1/businesses/${business.id}/runs?status=running&status=paused`, 50, { key });
    expect(ids(repeated.items)).toEqual(ids(live.items));

    for (const id of created.slice(2)) await stack.api('POST', `/v1/runs/${id}/cancel`, undefined, { key });
  });

  test('rows created within one millisecond, or at the same instant, are each seen once: the cursor keeps microseconds and the ID', async () => {
    const crowded = await stack.createBusiness();
    // Rows written straight to Postgres, so their creation times can be microseconds apart or equal
    // (canceled: no sweep takes them for runs to start).
    const inserted = await stack.database.pool.query<{ id: string }>(
      `INSERT INTO bulk_call_runs (business_id, workflow_id, status, created_at)
       SELECT $1, 'crowded-' || gen_random_uuid(), 'canceled', timestamptz '2026-06-01 12:00:00.123' + make_interval(secs => (i / 3) * 0.000001)
         FROM generate_series(0, 8) AS i RETURNING id`,
      [crowded.id],
    );
    expect(inserted.rows).toHaveLength(9);
    const inOrder = await stack.database.pool.query<{ id: string }>('SELECT id FROM bulk_call_runs WHERE business_id = $1 ORDER BY created_at DESC, id DESC', [crowded.id]);
    for (const limit of [1, 2, 4]) {
      const walked = await walk<{ id: string }>(`/v1/businesses/${crowded.id}/runs`, limit);
      expect(ids(walked.items)).toEqual(ids(inOrder.rows));
    }
  });

  test('businesses: admin only, newest first, each once', async () => {
    const before = await stack.database.pool.query<{ id: string }>('SELECT id FROM businesses ORDER BY created_at DESC, id DESC');
    const walked = await walk<{ id: string; name: string; activeCalls: number }>('/v1/businesses', 200);
    const walkedIds = ids(walked.items);
    expect(new Set(walkedIds).size).toBe(walkedIds.length);
    // Other suites share the database and may add businesses meanwhile (newer: before the first page).
    const known = new Set(ids(before.rows));
    expect(walkedIds.filter((id) => known.has(id))).toEqual(ids(before.rows));
    const mine = walked.items.find((b) => b.id === business.id);
    expect(mine).toEqual((await stack.api<{ business: unknown }>('GET', `/v1/businesses/${business.id}`)).body.business);

    const forbidden = await stack.api<ErrorBody>('GET', '/v1/businesses', undefined, { key });
    expect(forbidden.status).toBe(403);
    expect(forbidden.body.error.code).toBe('forbidden');
  });

  describe('a finished run with varied outcomes', () => {
    const phones = {
      answered: '+12125552201',
      busyTwice: '+12125552202',
      noAnswer: '+12125552203',
      failed: '+12125552204',
      listed: '+12125552205',
      plain: '+12125552206',
    };
    let run: { id: string; workflowId: string };

    beforeAll(async () => {
      stack.carrier.setScripts([
        { to: phones.busyTwice, outcome: 'busy' },
        { to: phones.noAnswer, outcome: 'no-answer' },
        { to: phones.failed, outcome: 'failed' },
      ]);
      expect((await stack.api('POST', `/v1/businesses/${business.id}/do-not-call`, { numbers: [phones.listed] }, { key })).status).toBe(200);
      const created = await stack.api<{ run: { id: string; workflowId: string } }>(
        'POST',
        `/v1/businesses/${business.id}/runs`,
        {
          retries: { busy: { maxAttempts: 2, delaySeconds: 0 } },
          leads: [
            { phone: phones.answered, name: 'Ada, "the first"', variables: { plan: 'gold', clinic: 'Main St' } },
            { phone: phones.busyTwice, name: 'Grace', variables: { plan: 'silver' } },
            { phone: phones.noAnswer },
            { phone: phones.failed, variables: { zone: 'x' } },
            { phone: phones.listed, name: 'Listed' },
            { phone: phones.plain },
          ],
        },
        { key },
      );
      expect(created.status).toBe(201);
      run = created.body.run;
      expect((await stack.runResult(run)).status).toBe('completed');
      stack.carrier.setScripts([]);
    });

    type Attempt = { callId: string; attempt: number; status: string; answeredBy: string | null; durationSeconds: number | null; errorCode: number | null; createdAt: string };
    type Job = { jobId: string; leadId: string; phone: string; name: string | null; variables: Record<string, string>; status: string; outcome: string | null; attempts: Attempt[] };

    test('jobs: lead order across pages, each lead once with every attempt (its calls), filters', async () => {
      const { items, pages } = await walk<Job>(`/v1/runs/${run.id}/jobs`, 4, { key });
      expect(pages).toBe(2);
      expect(items.map((j) => j.phone)).toEqual(Object.values(phones));
      const byPhone = Object.fromEntries(items.map((j) => [j.phone, j]));
      expect(byPhone[phones.answered]).toMatchObject({ name: 'Ada, "the first"', variables: { plan: 'gold', clinic: 'Main St' }, status: 'completed', outcome: 'completed' });
      expect(byPhone[phones.answered]!.attempts).toEqual([expect.objectContaining({ attempt: 1, status: 'completed' })]);
      expect(byPhone[phones.busyTwice]!.attempts.map((a) => [a.attempt, a.status])).toEqual([
        [1, 'busy'],
        [2, 'busy'],
      ]);
      expect(byPhone[phones.busyTwice]).toMatchObject({ outcome: 'busy' });
      expect(byPhone[phones.listed]).toMatchObject({ status: 'skipped_dnc', outcome: null, attempts: [] });
      expect(byPhone[phones.plain]).toMatchObject({ variables: {}, name: null });

      // Each attempt is the call the carrier placed for that lead, as GET /v1/calls/:id shows it.
      const sids = await stack.database.pool.query<{ id: string; twilio_call_sid: string }>('SELECT id, twilio_call_sid FROM calls WHERE run_id = $1', [run.id]);
      expect(sids.rows).toHaveLength(items.reduce((n, j) => n + j.attempts.length, 0));
      for (const job of items) {
        expect(stack.carrier.calls({ to: job.phone })).toHaveLength(job.attempts.length);
        for (const attempt of job.attempts) {
          const call = (await stack.api<{ call: { jobId: string; status: string; durationSeconds: number | null } }>('GET', `/v1/calls/${attempt.callId}`, undefined, { key })).body.call;
          expect({ status: call.status, durationSeconds: call.durationSeconds }).toEqual({ status: attempt.status, durationSeconds: attempt.durationSeconds });
        }
      }

      // Filters apply to each lead's latest attempt, as the database holds it.
      const latest = await stack.database.pool.query<{ phone: string; status: string; outcome: string | null }>(
        `SELECT DISTINCT ON (j.position) l.phone, j.status, j.outcome FROM outbound_call_jobs j JOIN leads l ON l.id = j.lead_id
          WHERE j.run_id = $1 ORDER BY j.position, j.attempt DESC`,
        [run.id],
      );
      const phonesWhere = (keep: (r: { status: string; outcome: string | null }) => boolean) => latest.rows.filter(keep).map((r) => r.phone);
      const filtered = async (query: string) => (await walk<Job>(`/v1/runs/${run.id}/jobs?${query}`, 2, { key })).items.map((j) => j.phone);
      expect(await filtered('outcome=busy')).toEqual([phones.busyTwice]);
      expect(await filtered('outcome=no-answer,failed')).toEqual([phones.noAnswer, phones.failed]);
      expect(await filtered('status=skipped_dnc')).toEqual([phones.listed]);
      expect(await filtered('status=completed')).toEqual(phonesWhere((r) => r.status === 'completed'));
      expect(await filtered('status=completed&outcome=completed')).toEqual([phones.answered, phones.plain]);
      expect(await filtered('status=queued')).toEqual([]);
    });

    test('results.csv: the header, then one row per lead as its last attempt stands, variables as columns', async () => {
      const res = await fetch(`${stack.apiUrl}/v1/runs/${run.id}/results.csv`, { headers: { authorization: `Bearer ${key}` } });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/csv; charset=utf-8');
      const rows = parse(await res.text()) as string[][];
      expect(rows[0]).toEqual([
        'lead_id',
        'phone',
        'name',
        'status',
        'outcome',
        'attempts',
        'duration_seconds',
        'answered_by',
        'error_code',
        'error_message',
        'last_call_at',
        'clinic',
        'plan',
        'zone',
      ]);
      const jobs = (await walk<Job>(`/v1/runs/${run.id}/jobs`, 200, { key })).items;
      const expected = jobs.map((job) => {
        const last = job.attempts.at(-1);
        return [
          job.leadId,
          job.phone,
          job.name ?? '',
          job.status,
          job.outcome ?? '',
          String(job.attempts.length),
          last?.durationSeconds == null ? '' : String(last.durationSeconds),
          last?.answeredBy ?? '',
          expect.any(String),
          expect.any(String),
          last?.createdAt ?? '',
          job.variables.clinic ?? '',
          job.variables.plan ?? '',
          job.variables.zone ?? '',
        ];
      });
      expect(rows.slice(1)).toEqual(expected);
      const row = (phone: string) => rows.find((r) => r[1] === phone)!;
      expect(row(phones.answered).slice(1, 6)).toEqual([phones.answered, 'Ada, "the first"', 'completed', 'completed', '1']);
      expect(row(phones.busyTwice).slice(3, 6)).toEqual(['completed', 'busy', '2']);
      expect(row(phones.listed).slice(3, 6)).toEqual(['skipped_dnc', '', '0']);
      expect(row(phones.listed)[9]).toBe('the number is on a do-not-call list');
      expect(Number(row(phones.answered)[6])).toBeGreaterThanOrEqual(0);

      // Read in batches smaller than the run, the rows are the same: each lead once, in order.
      const { header, rows: batched } = await runResults(stack.deps(), run.id, 2);
      const read: string[][] = [header];
      for await (const cells of batched) read.push(cells.map((c) => (c === null ? '' : String(c))));
      expect(read).toEqual(rows);
    });

    test('calls: newest first, each once; direction, status, since and until as the database says', async () => {
      const direct = await stack.api<{ call: { id: string } }>('POST', `/v1/businesses/${business.id}/calls`, { to: '+12125552299' }, { key });
      expect(direct.status).toBe(201);
      await pollUntil(async () => (await stack.api<{ call: { status: string } }>('GET', `/v1/calls/${direct.body.call.id}`, undefined, { key })).body.call.status === 'completed');

      const rows = (
        await stack.database.pool.query<{ id: string; direction: string; status: string; created_at: Date }>(
          'SELECT id, direction, status, created_at FROM calls WHERE business_id = $1 ORDER BY created_at DESC, id DESC',
          [business.id],
        )
      ).rows;
      const all = await walk<{ id: string; direction: string; status: string; createdAt: string }>(`/v1/businesses/${business.id}/calls`, 2, { key });
      expect(ids(all.items)).toEqual(ids(rows));
      expect(all.items[0]).toEqual((await stack.api<{ call: unknown }>('GET', `/v1/calls/${direct.body.call.id}`, undefined, { key })).body.call);

      const list = async (query: string) => ids((await walk<{ id: string }>(`/v1/businesses/${business.id}/calls?${query}`, 3, { key })).items);
      expect(await list('direction=direct')).toEqual([direct.body.call.id]);
      expect(await list('direction=bulk')).toEqual(ids(rows.filter((r) => r.direction === 'bulk')));
      expect(await list('status=busy,no-answer')).toEqual(ids(rows.filter((r) => r.status === 'busy' || r.status === 'no-answer')));
      const middle = rows[Math.floor(rows.length / 2)]!.created_at;
      // ISO instants hold milliseconds; the rows microseconds: compare as the database does.
      const since = new Date(middle.getTime());
      const until = new Date(middle.getTime() + 1);
      const atOrAfter = (await stack.database.pool.query<{ id: string }>(
        'SELECT id FROM calls WHERE business_id = $1 AND created_at >= $2 ORDER BY created_at DESC, id DESC',
        [business.id, since],
      )).rows;
      const beforeUntil = (await stack.database.pool.query<{ id: string }>(
        'SELECT id FROM calls WHERE business_id = $1 AND created_at < $2 ORDER BY created_at DESC, id DESC',
        [business.id, until],
      )).rows;
      expect(await list(`since=${since.toISOString()}`)).toEqual(ids(atOrAfter));
      expect(await list(`until=${encodeURIComponent(until.toISOString())}`)).toEqual(ids(beforeUntil));
      expect(atOrAfter.length).toBeGreaterThan(0);
      expect(beforeUntil.length).toBeGreaterThan(0);
    });

    test("a business key sees only its own business's lists: another's answer 404 as unknown IDs do", async () => {
      const otherRun = await stack.createRun(other.id, ['+12125552301']);
      await stack.runResult(otherRun);
      const mine = [`/v1/businesses/${business.id}/runs`, `/v1/businesses/${business.id}/calls`, `/v1/runs/${run.id}/jobs`, `/v1/runs/${run.id}/results.csv`];
      for (const path of mine) expect([path, (await fetch(stack.apiUrl + path, { headers: { authorization: `Bearer ${key}` } })).status]).toEqual([path, 200]);
      const theirs = [`/v1/businesses/${other.id}/runs`, `/v1/businesses/${other.id}/calls`, `/v1/runs/${otherRun.id}/jobs`, `/v1/runs/${otherRun.id}/results.csv`];
      const unknown = ['/v1/businesses/00000000-0000-4000-8000-000000000000/runs', '/v1/runs/00000000-0000-4000-8000-000000000000/jobs', '/v1/runs/not-a-uuid/results.csv'];
      for (const path of [...theirs, ...unknown]) {
        const res = await stack.api<ErrorBody>('GET', path, undefined, { key });
        expect([path, res.status, res.body.error.code]).toEqual([path, 404, 'not_found']);
      }
      // The admin sees every business's.
      for (const path of theirs) expect((await fetch(stack.apiUrl + path, { headers: { authorization: `Bearer ${stack.adminKey}` } })).status).toBe(200);
      const unknownAdmin = await stack.api<ErrorBody>('GET', '/v1/businesses/00000000-0000-4000-8000-000000000000/calls');
      expect(unknownAdmin.status).toBe(404);
    });

    test('bad cursors, limits and filters are 400s naming the parameter', async () => {
      const jobsPage = await stack.api<Page<unknown>>('GET', `/v1/runs/${run.id}/jobs?limit=1`, undefined, { key });
      const foreignCursor = jobsPage.body.nextCursor!;
      expect(foreignCursor).toEqual(expect.any(String));
      const cases: [string, string][] = [
        [`/v1/businesses/${business.id}/runs?cursor=garbage!`, 'cursor'],
        [`/v1/businesses/${business.id}/runs?cursor=${Buffer.from('{"createdUs":"1"}').toString('base64url')}`, 'cursor'],
        [`/v1/businesses/${business.id}/runs?cursor=${foreignCursor}`, 'cursor'],
        [`/v1/runs/${run.id}/jobs?cursor=${Buffer.from('{"position":-1}').toString('base64url')}`, 'cursor'],
        [`/v1/businesses/${business.id}/calls?limit=0`, 'limit'],
        [`/v1/businesses/${business.id}/calls?limit=201`, 'limit'],
        [`/v1/businesses/${business.id}/calls?limit=ten`, 'limit'],
        [`/v1/businesses/${business.id}/runs?status=running,sleeping`, 'status'],
        [`/v1/runs/${run.id}/jobs?outcome=reserved`, 'outcome'],
        [`/v1/runs/${run.id}/jobs?status=`, 'status'],
        [`/v1/businesses/${business.id}/calls?direction=sideways`, 'direction'],
        [`/v1/businesses/${business.id}/calls?since=yesterday`, 'since'],
        [`/v1/businesses/${business.id}/calls?since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z`, 'until'],
        [`/v1/businesses/${business.id}/calls?sort=asc`, 'sort'],
        [`/v1/runs/${run.id}/results.csv?format=xlsx`, 'format'],
      ];
      for (const [path, parameter] of cases) {
        const res = await stack.api<ErrorBody>('GET', path, undefined, { key });
        expect([path, res.status, res.body.error.code]).toEqual([path, 400, 'invalid_request']);
        expect([path, res.body.error.message]).toEqual([path, expect.stringContaining(parameter)]);
      }
    });
  });
});
