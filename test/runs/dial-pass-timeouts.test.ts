import { leadPhones, OutdialTestStack } from '../helpers/outdial';

/** The dial pass's Temporal timeouts come from configuration: what the run's history schedules is what was set. */
describe('dial pass timeouts', () => {
  let stack: OutdialTestStack;

  beforeAll(async () => {
    stack = await OutdialTestStack.start({ dialPass: { timeoutSeconds: 30, heartbeatSeconds: 3 }, carrier: { defaultScript: { dialMs: 2, ringMs: 5, talkMs: 10 } } });
    await stack.startWorker();
  });
  afterAll(async () => {
    await stack?.stop();
  });

  test('every dial pass of a run is scheduled with the configured start-to-close and heartbeat timeouts', async () => {
    const business = await stack.createBusiness();
    const run = await stack.createRun(business.id, leadPhones(2, '+1415588'));
    expect((await stack.runResult(run)).status).toBe('completed');
    const history = await stack.temporal.client.workflow.getHandle(run.workflowId).fetchHistory();
    const passes = (history.events ?? [])
      .map((e) => e.activityTaskScheduledEventAttributes)
      .filter((a) => a?.activityType?.name === 'dialAvailableSlots');
    expect(passes.length).toBeGreaterThan(0);
    for (const pass of passes) {
      expect([Number(pass!.startToCloseTimeout?.seconds), Number(pass!.heartbeatTimeout?.seconds)]).toEqual([30, 3]);
    }
  });
});
