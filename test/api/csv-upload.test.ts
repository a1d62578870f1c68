import { PassThrough } from 'node:stream';
import { DEFAULT_CSV_COLUMNS, readCsvLeads } from '../../src/api/csv-leads';
import { leadPhones, OutdialTestStack } from '../helpers/outdial';

interface Answer {
  run: { id: string; workflowId: string } & Record<string, unknown>;
  error: { code: string; message: string; details?: unknown };
}

/** Runs from CSV uploads: streamed, every other column a variable, a bad line named, nothing half-written. */
describe('CSV upload', () => {
  let stack: OutdialTestStack;
  beforeAll(async () => {
    stack = await OutdialTestStack.start({ wakeFallbackSeconds: 3600, carrier: { defaultScript: { dialMs: 1, ringMs: 2, talkMs: 3 } } });
    await stack.startWorker();
  });
  afterAll(async () => {
    await stack.stop();
  });

  async function upload(businessId: string, csv: string, query = '', headers: Record<string, string> = {}) {
    const res = await fetch(`${stack.apiUrl}/v1/businesses/${businessId}/runs${query}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${stack.adminKey}`, 'content-type': 'text/csv', ...headers },
      body: csv,
    });
    return { status: res.status, body: (await res.json()) as Answer };
  }
  const runsOf = async (businessId: string) => Number((await stack.database.pool.query('SELECT count(*) FROM bulk_call_runs WHERE business_id = $1', [businessId])).rows[0].count);

  test('a CSV of 60 leads with extra columns: every other column becomes the lead’s variables, and the run completes', async () => {
    const business = await stack.createBusiness();
    const phones = leadPhones(60, '+1415600');
    const csv = ['Phone,Name,First Name,Appointment Time,Time_Zone', ...phones.map((p, i) => `${p},Lead ${i},"Ada, ${i}",Tue 9:${String(i % 60).padStart(2, '0')},${i % 2 ? 'America/Phoenix' : ''}`)].join('\r\n');
    const options = encodeURIComponent(JSON.stringify({ maxConcurrentCalls: 3, retries: { busy: { maxAttempts: 2, delaySeconds: 1 } } }));
    const res = await upload(business.id, csv, `?options=${options}`);
    expect(res.status).toBe(201);
    expect(res.body.run).toMatchObject({ jobs: { total: 60 }, maxConcurrentCalls: 3, retries: { busy: { maxAttempts: 2, delaySeconds: 1, backoff: 1 } } });
    const leads = await stack.database.pool.query(
      'SELECT l.phone, l.name, l.variables, l.time_zones FROM leads l JOIN outbound_call_jobs j ON j.lead_id = l.id WHERE j.run_id = $1 ORDER BY j.position',
      [res.body.run.id],
    );
    expect(leads.rows).toHaveLength(60);
    expect(leads.rows[7]).toEqual({ phone: phones[7], name: 'Lead 7', variables: { first_name: 'Ada, 7', appointment_time: 'Tue 9:07' }, time_zones: ['America/Phoenix'] });
    expect(leads.rows[8]!.time_zones).toEqual(['America/Los_Angeles']);
    const done = await stack.runResult(res.body.run);
    expect(done.jobs).toMatchObject({ total: 60, completed: 60 });
  });

  test('a bad row on line 734 rejects the upload naming line 734 and its column; nothing is written', async () => {
    const business = await stack.createBusiness();
    const rows = leadPhones(800, '+1415601').map((p) => `${p},x`);
    rows[732] = '+1415,x'; // the header is line 1, so row 733 is on line 734
    const res = await upload(business.id, ['phone,note', ...rows].join('\n'));
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'invalid_leads', details: [{ line: 734, column: 'phone' }] });
    expect(res.body.error.message).toContain('line 734, column phone');
    expect(await runsOf(business.id)).toBe(0);
  });

  /** Numbers 10 digits after +1, all valid: 415-200-0000 onwards. */
  const manyPhones = (n: number) => Array.from({ length: n }, (_, i) => `+1415${2_000_000 + i}`);
  const leadsOf = async (businessId: string) => Number((await stack.database.pool.query('SELECT count(*) FROM leads WHERE business_id = $1', [businessId])).rows[0].count);

  test('a bad row far down a long CSV, past its first chunks, still leaves nothing written', async () => {
    const business = await stack.createBusiness();
    const rows = manyPhones(25_000).map((p, i) => `${p},Lead ${i}`);
    rows[23_998] = '+1415,x'; // line 24,000
    const res = await upload(business.id, ['phone,name', ...rows].join('\n'));
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'invalid_leads', details: [{ line: 24_000, column: 'phone' }] });
    expect(await runsOf(business.id)).toBe(0);
    expect(await leadsOf(business.id)).toBe(0);
  });

  test('numbers that repeat far apart in a long CSV are merged into their first row, counted in duplicatesMerged', async () => {
    const business = await stack.createBusiness();
    const phones = manyPhones(12_000);
    const rows = [...phones.map((p, i) => `${p},First ${i}`), ...phones.slice(0, 500).map((p, i) => `${p},Again ${i}`)];
    const res = await upload(business.id, ['phone,name', ...rows].join('\n'), `?options=${encodeURIComponent(JSON.stringify({ startAt: new Date(Date.now() + 3_600_000).toISOString() }))}`);
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ run: { jobs: { total: 12_000 } }, duplicatesMerged: 500 });
    const leads = await stack.database.pool.query(
      'SELECT j.position, l.phone, l.name FROM leads l JOIN outbound_call_jobs j ON j.lead_id = l.id WHERE j.run_id = $1 ORDER BY j.position',
      [res.body.run.id],
    );
    expect(leads.rows.map((r: { phone: string }) => r.phone)).toEqual(phones);
    expect(leads.rows.map((r: { position: number }) => r.position)).toEqual(phones.map((_, i) => i));
    expect(leads.rows[499]).toMatchObject({ name: 'First 499' });
    await stack.api('POST', `/v1/runs/${res.body.run.id}/cancel`);
  });

  test.each([
    ['a row with a cell too many', 'phone,note\n+14156020001,a\n+14156020002,b,c\n', 'line 3'],
    ['an unclosed quote', 'phone,note\n+14156020001,"a\n', 'line'],
    ['no phone column', 'number,note\n+14156020001,a\n', 'line 1: no "phone" column'],
    ['a header no variable can be named after', 'phone,2nd try\n+14156020001,a\n', 'line 1: the column "2nd_try"'],
    ['two columns that lowercase alike', 'phone,Note,NOTE\n+14156020001,a,b\n', 'line 1: two columns'],
    ['a header row alone', 'phone,note\n', 'no lead'],
  ])('%s: 400 naming where, nothing written', async (_what, csv, named) => {
    const business = await stack.createBusiness();
    const res = await upload(business.id, csv);
    expect(res.status).toBe(400);
    expect(res.body.error.message).toContain(named);
    expect(await runsOf(business.id)).toBe(0);
  });

  test('cells with tabs, backslashes, quotes and line breaks are stored exactly as sent', async () => {
    const business = await stack.createBusiness();
    const cells = [
      { name: 'Tab\there', note: 'back\\slash \\N and \\t' },
      { name: 'Two\nlines', note: 'say "hi"\r\nthen {braces}, [brackets]' },
    ];
    const quoted = (v: string) => `"${v.replace(/"/g, '""')}"`;
    const csv = ['phone,name,note', ...cells.map((c, i) => `+1415604000${i},${quoted(c.name)},${quoted(c.note)}`)].join('\n');
    const res = await upload(business.id, csv, `?options=${encodeURIComponent(JSON.stringify({ startAt: new Date(Date.now() + 3_600_000).toISOString() }))}`);
    expect(res.status).toBe(201);
    const leads = await stack.database.pool.query('SELECT l.name, l.variables FROM leads l JOIN outbound_call_jobs j ON j.lead_id = l.id WHERE j.run_id = $1 ORDER BY j.position', [res.body.run.id]);
    expect(leads.rows).toEqual(cells.map((c) => ({ name: c.name, variables: { note: c.note } })));
    await stack.api('POST', `/v1/runs/${res.body.run.id}/cancel`);
  });

  test('columns by other names, and options in the query; the same upload with the same Idempotency-Key creates one run', async () => {
    const business = await stack.createBusiness();
    const csv = 'Mobile,Who,Zone,Plan\n+14156030001,Ada,America/New_York,gold\n+14156030002,Grace,,silver\n';
    const query = `?phoneColumn=Mobile&nameColumn=Who&timeZoneColumn=Zone&options=${encodeURIComponent(JSON.stringify({ startAt: new Date(Date.now() + 3_600_000).toISOString() }))}`;
    const first = await upload(business.id, csv, query, { 'Idempotency-Key': 'csv-1' });
    const again = await upload(business.id, csv, query, { 'Idempotency-Key': 'csv-1' });
    expect(first.status).toBe(201);
    expect(again).toEqual(first);
    expect(await runsOf(business.id)).toBe(1);
    const other = await upload(business.id, csv.replace('gold', 'platinum'), query, { 'Idempotency-Key': 'csv-1' });
    expect(other).toMatchObject({ status: 422, body: { error: { code: 'idempotency_key_reused' } } });
    const leads = await stack.database.pool.query('SELECT l.name, l.variables, l.time_zones FROM leads l JOIN outbound_call_jobs j ON j.lead_id = l.id WHERE j.run_id = $1 ORDER BY j.position', [
      first.body.run.id,
    ]);
    expect(leads.rows).toEqual([
      { name: 'Ada', variables: { plan: 'gold' }, time_zones: ['America/New_York'] },
      { name: 'Grace', variables: { plan: 'silver' }, time_zones: ['America/Los_Angeles'] },
    ]);
    expect((await upload(business.id, csv, '?options=%7Bnot%20json')).status).toBe(400);
    expect((await upload(business.id, csv, '?bogus=1')).status).toBe(400);
    await stack.api('POST', `/v1/runs/${first.body.run.id}/cancel`);
  });
});

describe('CSV reader', () => {
  test('an upload that stalls mid-body ends with 408 request_timeout, before the transaction would idle out', async () => {
    // A real stream that sends a header and one row, then nothing (as a stalled client does).
    const body = new PassThrough();
    body.write('phone,name\n+14155550100,Ada\n');
    const leads = readCsvLeads(body, DEFAULT_CSV_COLUMNS, 10, 200);
    const read = (async () => {
      for await (const chunk of leads.chunks) void chunk;
    })();
    await expect(read).rejects.toMatchObject({ status: 408, code: 'request_timeout' });
    body.destroy();
  });
});
