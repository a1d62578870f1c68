import { leadPhones, OutdialTestStack, pollUntil } from '../helpers/outdial';

interface Held {
  call: { id: string; status: string; runId: string | null };
  heldBecause: string;
}

/**
 * A call the carrier answers 404 for keeps its slot (it may be live under other credentials) until
 * an operator releases it: listed by GET /v1/held-calls, ended by POST /v1/calls/:callId/release,
 * audited in call_releases; its run then goes on.
 */
describe('calls held for an operator', () => {
  let stack: OutdialTestStack;

  beforeAll(async () => {
    // Calls are checked after 3 s of quiet: time enough to delete the carrier's record first.
    // Two checks that learn nothing make a call held.
    stack = await OutdialTestStack.start({
      reconcileAfterSeconds: 3,
      heldCallAfterChecks: 2,
      wakeFallbackSeconds: 1,
      carrier: { defaultScript: { dialMs: 2, ringMs: 10, talkMs: 30 } },
    });
    await stack.startWorker();
  });
  afterAll(async () => {
    await stack.stop();
  });

  test('a call the carrier no longer knows is held, released by an admin with a reason, and its run completes', async () => {
    const business = await stack.createBusiness({ maxConcurrentCalls: 1 });
    const phones = leadPhones(2, '+1415582');
    stack.carrier.setScripts([{ to: phones[0]!, callbackFaults: [{ kind: 'omit-final' }] }]);
    try {
      const run = await stack.createRun(business.id, phones);
      const [first] = await stack.carrier.waitForCalls(1, { from: business.callerId });
      await stack.carrier.waitForCall(first!.sid, 'completed');
      // Its final callback was lost, and the carrier's record is gone: a fetch answers 404.
      await stack.deps().telephony.calls(first!.sid).remove();

      let held: Held[] = [];
      await pollUntil(async () => {
        held = (await stack.api<{ data: Held[] }>('GET', '/v1/held-calls')).body.data.filter((h) => h.call.runId === run.id);
        return held.length > 0;
      });
      expect(held).toMatchObject([{ heldBecause: 'carrier-unknown', call: { status: 'in-progress' } }]);
      const callId = held[0]!.call.id;
      // Held, the slot stays taken: the second lead is not dialed.
      expect(stack.carrier.calls({ from: business.callerId })).toHaveLength(1);

      const minted = await stack.api<{ apiKey: { secret: string } }>('POST', `/v1/businesses/${business.id}/api-keys`, {});
      expect(minted.status).toBe(201);
      const refused = await stack.api('POST', `/v1/calls/${callId}/release`, { reason: 'confirmed ended in the Twilio console' }, { key: minted.body.apiKey.secret });
      expect(refused.status).toBe(403);

      const released = await stack.api<{ call: { status: string; lastError: string }; release: { releasedBy: string; reason: string } }>(
        'POST',
        `/v1/calls/${callId}/release`,
        { reason: 'confirmed ended in the Twilio console' },
      );
      expect(released.status).toBe(200);
      expect(released.body.call).toMatchObject({ status: 'failed', lastError: 'released by an operator: confirmed ended in the Twilio console' });
      const audit = await stack.database.pool.query('SELECT released_by, reason, status FROM call_releases WHERE call_id = $1', [callId]);
      expect(audit.rows).toEqual([{ released_by: released.body.release.releasedBy, reason: 'confirmed ended in the Twilio console', status: 'failed' }]);
      expect(released.body.release.releasedBy).toMatch(/^admin:/);

      const done = await stack.runResult(run);
      expect(done.status).toBe('completed');
      expect(done.jobs).toMatchObject({ total: 2, completed: 1, failed: 1 });
      expect(stack.carrier.calls({ from: business.callerId }).map((c) => c.to).sort()).toEqual([...phones].sort());
      expect((await stack.api<{ data: Held[] }>('GET', '/v1/held-calls')).body.data.filter((h) => h.call.runId === run.id)).toEqual([]);
    } finally {
      stack.carrier.setScripts([]);
    }
  });

  test('a long conversation checked many times, the carrier saying it is live each time, is never listed as held', async () => {
    const business = await stack.createBusiness({ maxConcurrentCalls: 1 });
    const [phone] = leadPhones(1, '+1415584');
    // Live for 12 s with no callback after answered: checked every 3 s.
    stack.carrier.setScripts([{ to: phone!, talkMs: 12_000 }]);
    try {
      const run = await stack.createRun(business.id, [phone!]);
      const [call] = await stack.carrier.waitForCalls(1, { from: business.callerId });
      const checks = async () =>
        (await stack.database.pool.query<{ checks: number; uncertain_checks: number }>('SELECT checks, uncertain_checks FROM calls WHERE twilio_call_sid = $1', [call!.sid])).rows[0];
      await pollUntil(async () => ((await checks())?.checks ?? 0) > 2, 30_000);
      // Checked more often than HELD_CALL_AFTER_CHECKS, still live at the carrier, and not held.
      expect(stack.carrier.calls({ sid: call!.sid, live: true })).toHaveLength(1);
      expect(await checks()).toMatchObject({ uncertain_checks: 0 });
      expect((await stack.api<{ data: Held[] }>('GET', '/v1/held-calls')).body.data.filter((h) => h.call.runId === run.id)).toEqual([]);
      const done = await stack.runResult(run);
      expect(done.jobs).toMatchObject({ total: 1, completed: 1 });
    } finally {
      stack.carrier.setScripts([]);
    }
  }, 60_000);
});
