/**
 * Temporal actions of a business's runs, counted from their workflow histories (every execution,
 * continue-as-new included), the way Temporal Cloud bills them: a workflow start, each activity
 * scheduled (and each retry attempt), each local activity (a marker), signal, timer, accepted
 * update and continue-as-new. Heartbeats and queries are not in a history and are not counted.
 */
import { Client, Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { activityTypeOf, LOCAL_ACTIVITY_MARKER } from '../../src/temporal/history-events';

const E = temporal.api.enums.v1.EventType;

export interface TemporalActions {
  starts: number;
  activities: number;
  activityRetries: number;
  localActivities: number;
  signals: number;
  timers: number;
  updates: number;
  continueAsNew: number;
  total: number;
  executions: number;
  /** The longest single history, in events. */
  maxHistoryEvents: number;
  /** Activities scheduled and local activities run, by activity type (e.g. dialAvailableSlots: the dial passes). */
  byActivity: Record<string, number>;
}

export async function businessActions(address: string, businessId: string): Promise<TemporalActions> {
  const connection = await Connection.connect({ address });
  try {
    const client = new Client({ connection });
    const a: TemporalActions = { starts: 0, activities: 0, activityRetries: 0, localActivities: 0, signals: 0, timers: 0, updates: 0, continueAsNew: 0, total: 0, executions: 0, maxHistoryEvents: 0, byActivity: {} };
    for await (const execution of client.workflow.list({ query: `OutdialBusinessId = '${businessId}'` })) {
      const history = await client.workflow.getHandle(execution.workflowId, execution.runId).fetchHistory();
      const events = history.events ?? [];
      a.executions++;
      a.maxHistoryEvents = Math.max(a.maxHistoryEvents, events.length);
      for (const e of events) {
        if (e.eventType === E.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED && !e.workflowExecutionStartedEventAttributes?.continuedExecutionRunId) a.starts++;
        else if (e.eventType === E.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED) {
          a.activities++;
          const type = e.activityTaskScheduledEventAttributes?.activityType?.name ?? '?';
          a.byActivity[type] = (a.byActivity[type] ?? 0) + 1;
        }
        else if (e.eventType === E.EVENT_TYPE_ACTIVITY_TASK_STARTED && (e.activityTaskStartedEventAttributes?.attempt ?? 1) > 1) a.activityRetries++;
        else if (e.eventType === E.EVENT_TYPE_MARKER_RECORDED && e.markerRecordedEventAttributes?.markerName === LOCAL_ACTIVITY_MARKER) {
          // A patch marker is not an action; a local activity's is.
          const type = activityTypeOf(e) ?? '?';
          a.localActivities++;
          a.byActivity[type] = (a.byActivity[type] ?? 0) + 1;
        }
        else if (e.eventType === E.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED) a.signals++;
        else if (e.eventType === E.EVENT_TYPE_TIMER_STARTED) a.timers++;
        else if (e.eventType === E.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED) a.updates++;
        else if (e.eventType === E.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW) a.continueAsNew++;
      }
    }
    a.total = a.starts + a.activities + a.activityRetries + a.localActivities + a.signals + a.timers + a.updates + a.continueAsNew;
    return a;
  } finally {
    await connection.close();
  }
}

/** Every count divided by `n` (per dialed lead, per freed slot), to two decimals. */
export function perUnit(a: TemporalActions, n: number): Record<string, number> {
  const keys = ['total', 'starts', 'activities', 'activityRetries', 'localActivities', 'signals', 'timers', 'updates', 'continueAsNew'] as const;
  return Object.fromEntries(keys.map((k) => [k, Number((a[k] / n).toFixed(2))]));
}
