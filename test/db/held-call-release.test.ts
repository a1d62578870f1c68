import { releaseHeldCall } from '../../src/domain/calls/held-calls';
import { ownDatabaseForFile } from '../helpers/db';

/**
 * Releasing a held call on the real Postgres, racing the check that finds it live: the release is
 * decided with the call's row locked, so a check that committed while it waited keeps the call.
 */
describe('releasing a held call', () => {
  const own = ownDatabaseForFile({ max: 3 });
  const woken: string[] = [];
  const deps = () => ({ database: own.database, config: { heldCallAfterChecks: 2 }, wakeRuns: async (businessId: string) => (woken.push(businessId), 0) });
  const principal = { kind: 'admin' as const, id: 'admin', credentialKey: Buffer.alloc(32) };


  /** An answered direct call whose last checks learned nothing: held. */
  async function heldCall(): Promise<{ businessId: string; callId: string }> {
    const businessId: string = (await own.database.pool.query("INSERT INTO businesses (name, caller_id) VALUES ('Held', '+15005550006') RETURNING id")).rows[0].id;
    const r = await own.database.pool.query(
      `INSERT INTO calls (business_id, direction, status, to_number, from_number, twilio_call_sid, dialed_at, uncertain_checks)
       VALUES ($1, 'direct', 'in-progress', '+14155550100', '+15005550006', 'CA' || md5(random()::text), now(), 3) RETURNING id`,
      [businessId],
    );
    return { businessId, callId: r.rows[0].id };
  }

  const statusOf = async (callId: string) => (await own.database.pool.query('SELECT status FROM calls WHERE id = $1', [callId])).rows[0].status;
  const releases = async (callId: string) => Number((await own.database.pool.query('SELECT count(*) AS n FROM call_releases WHERE call_id = $1', [callId])).rows[0].n);

  test('a held call is released: it ends, the release is recorded, its business is woken', async () => {
    const { businessId, callId } = await heldCall();
    const released = await releaseHeldCall(deps(), { callId, principal, reason: 'gone in the console', status: 'canceled' });
    expect(released).toMatchObject({ kind: 'released', call: { status: 'canceled' }, release: { reason: 'gone in the console', status: 'canceled' } });
    expect(await statusOf(callId)).toBe('canceled');
    expect(await releases(callId)).toBe(1);
    expect(woken).toContain(businessId);
  });

  test('a check that finds the call live while the release waits for its row wins: the call stays active, nothing is recorded', async () => {
    const { callId } = await heldCall();
    const check = await own.database.pool.connect();
    try {
      await check.query('BEGIN');
      await check.query('SELECT id FROM calls WHERE id = $1 FOR UPDATE', [callId]);
      // The carrier says the call is live: news, so it is no longer held.
      await check.query('UPDATE calls SET uncertain_checks = 0 WHERE id = $1', [callId]);
      const release = releaseHeldCall(deps(), { callId, principal, reason: 'thought gone', status: 'failed' });
      for (;;) {
        const waiting = await own.admin.pool.query(`SELECT count(*) AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%FOR UPDATE OF c%'`);
        if (Number(waiting.rows[0].n) > 0) break;
      }
      await check.query('COMMIT');
      expect(await release).toEqual({ kind: 'not-held' });
    } finally {
      check.release();
    }
    expect(await statusOf(callId)).toBe('in-progress');
    expect(await releases(callId)).toBe(0);
  });
});
