/**
 * results.csv, measured: a run of N leads (uploaded as CSV, no worker: every lead stays queued) read
 * back as GET /v1/runs/:id/results.csv, timed from the request to the last byte, with the API's
 * memory growth while it streams; and the plan of one page's query (it must read the index in order
 * and stop, not sort the run).
 *
 *   npx tsx bench/results-csv.ts [--leads 100000]
 */
import { parseArgs } from 'node:util';
import { OutdialTestStack } from '../test/helpers/outdial';
import { startTestServers } from '../test/helpers/servers';

async function main() {
  const { values } = parseArgs({ options: { leads: { type: 'string', default: '100000' } } });
  const leads = Number(values.leads);
  const servers = await startTestServers();
  process.env.OUTDIAL_TEST_DATABASE_URL = servers.databaseUrl;
  process.env.OUTDIAL_TEST_TEMPORAL_ADDRESS = servers.temporalAddress;
  const stack = await OutdialTestStack.start();
  try {
    const business = await stack.createBusiness();
    const rows = ['phone,name,plan'];
    for (let i = 0; i < leads; i++) rows.push(`+1212${String(200 + (Math.floor(i / 10_000) % 800))}${String(i % 10_000).padStart(4, '0')},Lead ${i},p${i % 7}`);
    const startAt = encodeURIComponent(JSON.stringify({ allowDuplicates: true, startAt: new Date(Date.now() + 86_400_000).toISOString() }));
    const created = await fetch(`${stack.apiUrl}/v1/businesses/${business.id}/runs?options=${startAt}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${stack.adminKey}`, 'content-type': 'text/csv' },
      body: rows.join('\n'),
    });
    const run = ((await created.json()) as { run: { id: string } }).run;
    await stack.database.pool.query('ANALYZE outbound_call_jobs');
    const plan = await stack.database.pool.query<{ 'QUERY PLAN': string }>(
      `EXPLAIN SELECT j.id FROM (SELECT DISTINCT ON (position) * FROM outbound_call_jobs
         WHERE run_id = $1 AND position > $2 ORDER BY position, attempt DESC NULLS LAST) j JOIN leads l ON l.id = j.lead_id ORDER BY j.position LIMIT 500`,
      [run.id, leads / 2],
    );
    const rssBefore = process.memoryUsage().rss;
    let peakRss = rssBefore;
    const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 20);
    const started = performance.now();
    const res = await fetch(`${stack.apiUrl}/v1/runs/${run.id}/results.csv`, { headers: { authorization: `Bearer ${stack.adminKey}` } });
    let bytes = 0;
    let lines = 0;
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      bytes += chunk.length;
      for (const b of chunk) if (b === 10) lines++;
    }
    const seconds = (performance.now() - started) / 1000;
    clearInterval(sampler);
    console.log(plan.rows.map((r) => r['QUERY PLAN']).join('\n'));
    console.log(
      JSON.stringify({ leads, status: res.status, rows: lines - 1, bytes, seconds: Number(seconds.toFixed(2)), leadsPerSecond: Math.round(leads / seconds), rssGrowthMb: Math.round((peakRss - rssBefore) / 1e6) }),
    );
  } finally {
    await stack.stop();
    await servers.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
