/**
 * CSV ingest, measured: one upload of N leads (phone, name, two variable columns, a time-zone column
 * on every other row) to POST /v1/businesses/:id/runs as text/csv, against real Postgres and
 * Temporal, timed from the first byte sent to the 201. No worker runs: nothing is dialed.
 *
 * Prints, per upload, the wall time and the CPU time of this process (API, CSV parsing) and of the
 * Postgres server during it: on a shared machine the CPU times are the steadier figures.
 *
 *   npx tsx bench/csv-ingest.ts [--leads 100000] [--uploads 1]
 */
import { parseArgs } from 'node:util';
import { OutdialTestStack } from '../test/helpers/outdial';
import { startTestServers } from '../test/helpers/servers';
import { ownCpuSeconds, postgresCpuSeconds, postmasterOf } from './lib/cpu';

async function main() {
  const { values } = parseArgs({ options: { leads: { type: 'string', default: '100000' }, uploads: { type: 'string', default: '1' } } });
  const leads = Number(values.leads);
  const servers = await startTestServers();
  process.env.OUTDIAL_TEST_DATABASE_URL = servers.databaseUrl;
  process.env.OUTDIAL_TEST_TEMPORAL_ADDRESS = servers.temporalAddress;
  const stack = await OutdialTestStack.start();
  const postmaster = postmasterOf(Number(new URL(servers.databaseUrl).port));
  try {
    // Numbers spread over many area codes, so the zone lookup sees many prefixes, as a real list does.
    const areaCodes = ['212', '415', '602', '312', '713', '305', '206', '617', '404', '303'];
    const rows = ['phone,name,first_name,appointment,time_zone'];
    for (let i = 0; i < leads; i++) {
      const phone = `+1${areaCodes[i % areaCodes.length]}${String(200 + Math.floor(i / 10_000) % 800)}${String(i % 10_000).padStart(4, '0')}`;
      rows.push(`${phone},Lead ${i},Ada ${i},2026-12-0${(i % 9) + 1} 09:30,${i % 2 ? 'America/Chicago' : ''}`);
    }
    const csv = rows.join('\n');
    for (let upload = 0; upload < Number(values.uploads); upload++) {
      const business = await stack.createBusiness();
      const [nodeCpu, postgresCpu] = [ownCpuSeconds(), postgresCpuSeconds(postmaster)];
      const started = performance.now();
      const res = await fetch(`${stack.apiUrl}/v1/businesses/${business.id}/runs?options=${encodeURIComponent(JSON.stringify({ allowDuplicates: true }))}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${stack.adminKey}`, 'content-type': 'text/csv' },
        body: csv,
      });
      const body = (await res.json()) as { run?: { id: string; workflowId: string; jobs: { total: number } }; error?: unknown };
      const seconds = (performance.now() - started) / 1000;
      const cpu = { node: ownCpuSeconds() - nodeCpu, postgres: postgresCpuSeconds(postmaster) - postgresCpu };
      if (res.status !== 201 || !body.run) throw new Error(`upload answered ${res.status}: ${JSON.stringify(body.error)}`);
      const cpuSeconds = { node: Number(cpu.node.toFixed(2)), postgres: Number(cpu.postgres.toFixed(2)) };
      console.log(JSON.stringify({ leads, bytes: Buffer.byteLength(csv), status: res.status, jobs: body.run.jobs.total, seconds: Number(seconds.toFixed(2)), leadsPerSecond: Math.round(leads / seconds), cpuSeconds }));
      // Not the cancel route: that is an update the run's workflow answers, and no worker runs here.
      await stack.temporal.client.workflow.getHandle(body.run.workflowId).terminate('benchmark done');
    }
  } finally {
    await stack.stop();
    await servers.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
