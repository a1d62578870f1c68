/**
 * What a dialed lead and a freed slot cost in Temporal, with 1 and with many runs of one business
 * (real Temporal, real Postgres, the sandbox carrier), counted from the runs' histories:
 *
 *   npx tsx bench/wake-fanout.ts [--runs 1,10] [--leads 200] [--limit 5] [--talk-ms 200]
 *
 * For each run count: the business (limit `--limit`) gets that many runs started together, sharing
 * `--leads` leads. Prints per dialed lead: signals, activities (dial passes and others), timers,
 * Temporal actions (workflow starts, signals, activities, timers, updates, search-attribute upserts,
 * local-activity markers), plus the carrier's peak (must equal the limit) and the dials per second.
 */
import { parseArgs } from 'node:util';
import { temporal } from '@temporalio/proto';
import { leadPhones, type OutdialTestStack } from '../test/helpers/outdial';
import { startInProcessStack } from './lib/in-process-stack';

const E = temporal.api.enums.v1.EventType;
const ACTION_EVENTS = new Set([
  E.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED,
  E.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED,
  E.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED,
  E.EVENT_TYPE_TIMER_STARTED,
  E.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED,
  E.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES,
  E.EVENT_TYPE_MARKER_RECORDED,
]);

async function scenario(stack: OutdialTestStack, runs: number, leads: number, limit: number) {
  const business = await stack.createBusiness({ maxConcurrentCalls: limit });
  const perRun = Math.ceil(leads / runs);
  const prefix = `+141555${runs % 10}`;
  const phones = leadPhones(leads, prefix);
  const started = Date.now();
  const created = await Promise.all(Array.from({ length: runs }, (_, i) => stack.createRun(business.id, phones.slice(i * perRun, (i + 1) * perRun))));
  await Promise.all(created.map((r) => stack.runResult(r)));
  const seconds = (Date.now() - started) / 1000;
  const calls = stack.carrier.calls({ from: business.callerId });

  const count = { events: 0, signals: 0, dialPasses: 0, otherActivities: 0, timers: 0, actions: 0 };
  for (const run of created) {
    for await (const e of stack.temporal.client.workflow.list({ query: `WorkflowId = '${run.workflowId}'` })) {
      const history = await stack.temporal.client.workflow.getHandle(run.workflowId, e.runId).fetchHistory();
      for (const ev of history.events ?? []) {
        count.events += 1;
        if (ev.eventType != null && ACTION_EVENTS.has(ev.eventType)) count.actions += 1;
        if (ev.eventType === E.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED) count.signals += 1;
        if (ev.eventType === E.EVENT_TYPE_TIMER_STARTED) count.timers += 1;
        if (ev.eventType === E.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED) {
          if (ev.activityTaskScheduledEventAttributes?.activityType?.name === 'dialAvailableSlots') count.dialPasses += 1;
          else count.otherActivities += 1;
        }
      }
    }
  }
  const per = (n: number) => Number((n / calls.length).toFixed(2));
  return {
    runs,
    leads,
    limit,
    dialed: calls.length,
    distinctNumbers: new Set(calls.map((c) => c.to)).size,
    carrierPeak: stack.carrier.stats().perFrom[business.callerId]?.peak,
    seconds: Number(seconds.toFixed(1)),
    dialsPerSecond: Number((calls.length / seconds).toFixed(1)),
    perDialedLead: {
      actions: per(count.actions),
      signals: per(count.signals),
      dialPasses: per(count.dialPasses),
      otherActivities: per(count.otherActivities),
      timers: per(count.timers),
      historyEvents: per(count.events),
    },
  };
}

async function main() {
  const { values } = parseArgs({
    options: {
      runs: { type: 'string', default: '1,10' },
      leads: { type: 'string', default: '200' },
      limit: { type: 'string', default: '5' },
      'talk-ms': { type: 'string', default: '200' },
    },
  });
  const { stack, stop } = await startInProcessStack(Number(values['talk-ms']));
  try {
    const results = [];
    for (const runs of values.runs.split(',').map(Number)) {
      const r = await scenario(stack, runs, Number(values.leads), Number(values.limit));
      console.log(JSON.stringify(r));
      results.push(r);
      if ((r.carrierPeak ?? 0) > r.limit || r.distinctNumbers !== r.leads || r.dialed !== r.leads) process.exitCode = 1;
    }
  } finally {
    await stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
