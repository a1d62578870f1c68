import { temporal } from '@temporalio/proto';
import { leadPhones, OutdialTestStack } from '../helpers/outdial';

const E = temporal.api.enums.v1.EventType;

/** The dial pass's Temporal timeouts come from configuration: what the run's history records is what was set. */
describe('dial pass timeouts', () => {
  let stack: OutdialTestStack;

  beforeAll(async () => {
    stack = await OutdialTestStack.start({ dialPass: { timeoutSeconds: 30, heartbeatSeconds: 3, local: false }, carrier: { defaultScript: { dialMs: 2, ringMs: 5, talkMs: 10 } } });
    await stack.startWorker();
  });
  afterAll(async () => {
    await stack?.stop();
  });

  async function historyOf(phones: string[]) {
    const business = await stack.createBusiness();
    const run = await stack.createRun(business.id, phones);
    expect((await stack.runResult(run)).status).toBe('completed');
    return (await stack.temporal.client.workflow.getHandle(run.workflowId).fetchHistory()).events ?? [];
  }

  test('as regular activities (DIAL_PASS_LOCAL_ACTIVITY=false), every pass is scheduled with the configured start-to-close and heartbeat timeouts', async () => {
    const events = await historyOf(leadPhones(2, '+1415588'));
    const passes = events.map((e) => e.activityTaskScheduledEventAttributes).filter((a) => a?.activityType?.name === 'dialAvailableSlots');
    expect(passes.length).toBeGreaterThan(0);
    for (const pass of passes) {
      expect([Number(pass!.startToCloseTimeout?.seconds), Number(pass!.heartbeatTimeout?.seconds)]).toEqual([30, 3]);
    }
  });

  test('as local activities (the default), passes are markers and the run\'s workflow task timeout is the heartbeat timeout: a dead worker holds it as long', async () => {
    stack.config.dialPass.local = true;
    try {
      const events = await historyOf(leadPhones(2, '+1415589'));
      expect(events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'dialAvailableSlots')).toHaveLength(0);
      expect(events.filter((e) => e.eventType === E.EVENT_TYPE_MARKER_RECORDED && e.markerRecordedEventAttributes?.markerName === 'core_local_activity').length).toBeGreaterThan(0);
      expect(Number(events[0]!.workflowExecutionStartedEventAttributes?.workflowTaskTimeout?.seconds)).toBe(3);
    } finally {
      stack.config.dialPass.local = false;
    }
  });
});
