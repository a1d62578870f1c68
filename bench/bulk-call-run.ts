/**
 * One large BulkCallRun end to end (real Temporal, real Postgres, the sandbox carrier), measured:
 *
 *   npx tsx bench/bulk-call-run.ts [--leads 10000] [--limit 3] [--talk-ms 20]
 *
 * Prints wall time, calls per second, the carrier's peak for the business (must equal the limit),
 * executions (continue-as-new), workflow history events and signals per call, and the slot refill
 * latency: from a call's end at the carrier to the next call the run creates.
 */
import { parseArgs } from 'node:util';
import { temporal } from '@temporalio/proto';
import { leadPhones } from '../test/helpers/outdial';
import { startInProcessStack } from './lib/in-process-stack';

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;

async function main() {
  const { values } = parseArgs({
    options: { leads: { type: 'string', default: '10000' }, limit: { type: 'string', default: '3' }, 'talk-ms': { type: 'string', default: '20' } },
  });
  const leads = Number(values.leads);
  const limit = Number(values.limit);
  const { stack, stop } = await startInProcessStack(Number(values['talk-ms']));
  try {
    const business = await stack.createBusiness({ maxConcurrentCalls: limit });
    const phones = [...leadPhones(Math.min(leads, 10_000), '+1415555'), ...leadPhones(Math.max(0, leads - 10_000), '+1415556')];
    const started = Date.now();
    const run = await stack.createRun(business.id, phones);
    const done = await stack.runResult(run);
    const seconds = (Date.now() - started) / 1000;

    const calls = stack.carrier.calls({ from: business.callerId }).sort((a, b) => a.createdAt - b.createdAt);
    const creations = calls.map((c) => c.createdAt);
    const refill: number[] = [];
    for (const c of calls) {
      if (c.endTime === null) continue;
      const next = creations.find((t) => t >= c.endTime!);
      if (next !== undefined) refill.push(next - c.endTime);
    }
    refill.sort((a, b) => a - b);

    let events = 0;
    let signals = 0;
    for await (const e of stack.temporal.client.workflow.list({ query: `WorkflowId = '${run.workflowId}'` })) {
      const history = await stack.temporal.client.workflow.getHandle(run.workflowId, e.runId).fetchHistory();
      events += history.events?.length ?? 0;
      signals += (history.events ?? []).filter((ev) => ev.eventType === temporal.api.enums.v1.EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED).length;
    }
    const report = {
      leads,
      limit,
      status: done.status,
      seconds: Number(seconds.toFixed(1)),
      callsPerSecond: Number((calls.length / seconds).toFixed(1)),
      callsAtCarrier: calls.length,
      distinctNumbers: new Set(calls.map((c) => c.to)).size,
      carrierPeak: stack.carrier.stats().perFrom[business.callerId]?.peak,
      executions: done.result.executions,
      historyEventsPerCall: Number((events / calls.length).toFixed(2)),
      signalsPerCall: Number((signals / calls.length).toFixed(2)),
      refillMs: { p50: percentile(refill, 50), p90: percentile(refill, 90), p99: percentile(refill, 99) },
    };
    console.log(JSON.stringify(report, null, 2));
    if (done.status !== 'completed' || report.carrierPeak !== limit || report.distinctNumbers !== leads) process.exitCode = 1;
  } finally {
    await stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
