import twilio from 'twilio';
import type { CallView } from '../../src/sandbox-carrier';
import type { TelephonyClient } from '../../src/telephony/client';
import { FROM, rejection, useCarrierFixture } from './helpers';

const fx = useCarrierFixture();
const ALL_EVENTS = ['initiated', 'ringing', 'answered', 'completed'];

const statuses = (view: CallView | undefined) => view?.timeline.map((t) => t.status);
const at = (view: CallView | undefined, status: string) => view?.timeline.find((t) => t.status === status)?.at ?? NaN;

function dial(to: string, extra: Partial<Parameters<TelephonyClient['calls']['create']>[0]> = {}) {
  return fx.client.calls.create({ to, from: FROM, url: fx.receiver.twimlUrl(), statusCallback: `${fx.receiver.url}/status`, statusCallbackEvent: ALL_EVENTS, ...extra });
}

describe('outcomes', () => {
  test('completed: every stage in order, times, duration and price filled as Twilio fills them', async () => {
    const created = await dial('+14155552001');
    expect(created.startTime).toBeNull();
    expect(created.endTime).toBeNull();
    expect(created.duration).toBeNull();
    expect(created.price).toBeNull();
    await fx.carrier.waitForCall(created.sid, 'completed');
    const view = fx.carrier.call(created.sid);
    expect(statuses(view)).toEqual(['queued', 'initiated', 'ringing', 'in-progress', 'completed']);

    const fetched = await fx.client.calls(created.sid).fetch();
    expect(fetched.status).toBe('completed');
    expect(fetched.startTime).toBeInstanceOf(Date);
    expect(fetched.endTime).toBeInstanceOf(Date);
    expect(fetched.endTime!.getTime()).toBeGreaterThanOrEqual(fetched.startTime!.getTime());
    expect(fetched.duration).toBe('1');
    expect(fetched.price).toBe('-0.01400');
    expect(fetched.priceUnit).toBe('USD');
    expect(fetched.queueTime).toMatch(/^\d+$/);
  });

  test('busy (by To pattern): rings, ends busy with duration 0, SIP 486', async () => {
    fx.carrier.setScripts([{ to: '+1415555210*', outcome: 'busy', ringMs: 10 }]);
    const call = await dial('+14155552101');
    const got = await fx.receiver.waitForCall(call.sid, 3);
    expect(got.map((c) => c.params.CallStatus)).toEqual(['initiated', 'ringing', 'busy']);
    expect(got[2]?.params).toMatchObject({ SipResponseCode: '486', CallDuration: '0', Duration: '0', SequenceNumber: '2' });
    const fetched = await fx.client.calls(call.sid).fetch();
    expect(fetched).toMatchObject({ status: 'busy', duration: '0', price: null });
    expect(fetched.startTime).toBeInstanceOf(Date);
    expect(fetched.endTime).toBeInstanceOf(Date);
  });

  test('no-answer rings for the request’s Timeout (scaled: 5 s × 0.01 = 50 ms), SIP 487', async () => {
    fx.carrier.setScripts([{ to: /^\+1415555220\d$/, outcome: 'no-answer' }]);
    const call = await dial('+14155552201', { timeout: 5 });
    const got = await fx.receiver.waitForCall(call.sid, 3);
    expect(got.map((c) => c.params.CallStatus)).toEqual(['initiated', 'ringing', 'no-answer']);
    expect(got[2]?.params.SipResponseCode).toBe('487');
    const view = fx.carrier.call(call.sid);
    // Timers run on the event loop's cached clock, so allow a few ms against Date.now().
    expect(at(view, 'no-answer') - at(view, 'ringing')).toBeGreaterThanOrEqual(45);
    expect(view?.durationSec).toBe(0);
  });

  test('a callee that would answer after the Timeout is no-answer', async () => {
    fx.carrier.setScripts([{ to: '+14155552301', outcome: 'completed', ringMs: 60_000 }]);
    const call = await dial('+14155552301', { timeout: 2 });
    const view = await fx.carrier.waitForCall(call.sid, ['completed', 'no-answer']);
    expect(view.status).toBe('no-answer');
    expect(view.answeredAt).toBeNull();
  });

  test('failed: dialled but never rings, SIP 404', async () => {
    fx.carrier.setScripts([{ to: '+14155552401', outcome: 'failed' }]);
    const call = await dial('+14155552401');
    const got = await fx.receiver.waitForCall(call.sid, 2);
    expect(got.map((c) => c.params.CallStatus)).toEqual(['initiated', 'failed']);
    expect(got[1]?.params.SipResponseCode).toBe('404');
    expect(statuses(fx.carrier.call(call.sid))).toEqual(['queued', 'initiated', 'failed']);
  });

  test('per-script ring and talk times are played as scripted', async () => {
    fx.carrier.setScripts([{ to: '+14155552501', ringMs: 40, talkMs: 120 }]);
    const call = await dial('+14155552501');
    const view = await fx.carrier.waitForCall(call.sid, 'completed');
    expect(at(view, 'in-progress') - at(view, 'ringing')).toBeGreaterThanOrEqual(35);
    expect(at(view, 'completed') - at(view, 'in-progress')).toBeGreaterThanOrEqual(115);
    expect(view.durationSec).toBe(1);
  });

  test('the next-outcome queue is consumed by the next creates, before any rule; then rules and default apply again', async () => {
    fx.carrier.setScripts([{ to: '+1415555260*', outcome: 'busy' }]);
    fx.carrier.queueOutcomes(['failed', { outcome: 'no-answer', ringMs: 5 }]);
    const sids: string[] = [];
    for (const to of ['+14155552601', '+14155552602', '+14155552603', '+14155552700']) sids.push((await dial(to)).sid);
    await fx.carrier.whenIdle();
    expect(sids.map((sid) => fx.carrier.call(sid)?.status)).toEqual(['failed', 'no-answer', 'busy', 'completed']);
  });

  test('magic To numbers pick an outcome without any setup', async () => {
    const busy = await dial('+15005550200');
    const noAnswer = await dial('+15005550201', { timeout: 1 });
    const failed = await dial('+15005550202');
    await fx.carrier.whenIdle();
    expect([busy, noAnswer, failed].map((c) => fx.carrier.call(c.sid)?.status)).toEqual(['busy', 'no-answer', 'failed']);
  });

  test('hold answers and stays in-progress until released; release ends it completed, once', async () => {
    fx.carrier.queueOutcomes(['hold']);
    const call = await dial('+14155552801');
    await fx.carrier.waitForCall(call.sid, 'in-progress');
    expect((await fx.client.calls(call.sid).fetch()).status).toBe('in-progress');
    expect(fx.carrier.call(call.sid)?.held).toBe(true);
    expect(fx.carrier.releaseCall(call.sid)).toBe(true);
    expect(fx.carrier.call(call.sid)?.status).toBe('completed');
    expect(fx.carrier.releaseCall(call.sid)).toBe(false);
    const got = await fx.receiver.waitForCall(call.sid, 4);
    expect(got[3]?.params).toMatchObject({ CallStatus: 'completed', SipResponseCode: '200' });
  });

  test('a held call released before it is answered can end busy', async () => {
    fx.carrier.queueOutcomes([{ outcome: 'hold', ringMs: 60_000 }]);
    const call = await dial('+14155552802', { timeout: 600 });
    await fx.carrier.waitForCall(call.sid, 'ringing');
    expect(fx.carrier.releaseCall(call.sid, 'busy')).toBe(true);
    expect(fx.carrier.call(call.sid)?.status).toBe('busy');
    expect(() => fx.carrier.releaseCall(call.sid, 'busy')).not.toThrow();
  });
});

describe('queueing at the account’s calls per second', () => {
  test('calls over the CPS wait queued, with queue_time as the estimate, and are dialled at the CPS pace', async () => {
    // 4 CPS: one call every 250 ms, slow enough that three parallel creates always meet in the queue,
    // however loaded the machine is.
    fx.carrier.setAccountLimits({ callsPerSecond: 4 });
    const calls = await Promise.all(['+14155553001', '+14155553002', '+14155553003'].map((to) => dial(to)));
    expect(calls.map((c) => c.status)).toEqual(['queued', 'queued', 'queued']);
    await fx.carrier.whenIdle();
    const initiated = calls.map((c) => at(fx.carrier.call(c.sid), 'initiated')).sort((a, b) => a - b);
    expect(initiated[1]! - initiated[0]!).toBeGreaterThanOrEqual(240);
    expect(initiated[2]! - initiated[1]!).toBeGreaterThanOrEqual(240);
    const estimates = calls.map((c) => Number(c.queueTime)).sort((a, b) => a - b);
    expect(estimates[1]).toBeGreaterThan(estimates[0]!);
    expect(estimates[2]).toBeGreaterThanOrEqual(250);
  });
});

describe('cancel and hang up', () => {
  test('canceling a queued call: canceled at once, never dialled, and no callbacks at all', async () => {
    fx.carrier.setAccountLimits({ callsPerSecond: 1 });
    const first = await dial('+14155554001');
    const queued = await dial('+14155554002');
    expect(queued.status).toBe('queued');
    expect(Number(queued.queueTime)).toBeGreaterThan(800);
    const canceled = await fx.client.calls(queued.sid).update({ status: 'canceled' });
    expect(canceled.status).toBe('canceled');
    expect(canceled.startTime).toBeNull();
    await fx.carrier.whenIdle();
    expect(statuses(fx.carrier.call(queued.sid))).toEqual(['queued', 'canceled']);
    expect(fx.receiver.forCall(queued.sid)).toEqual([]);
    expect(fx.carrier.callbacks({ callSid: queued.sid })).toEqual([]);
    expect(fx.receiver.forCall(first.sid)).toHaveLength(4);
  });

  test('canceling a ringing call ends it canceled, with its terminal callback (SIP 487)', async () => {
    fx.carrier.setScripts([{ to: '+14155554101', ringMs: 60_000 }]);
    const call = await dial('+14155554101', { timeout: 600 });
    await fx.carrier.waitForCall(call.sid, 'ringing');
    const updated = await fx.client.calls(call.sid).update({ status: 'canceled' });
    expect(updated.status).toBe('canceled');
    const got = await fx.receiver.waitForCall(call.sid, 3);
    expect(got.map((c) => c.params.CallStatus)).toEqual(['initiated', 'ringing', 'canceled']);
    expect(got[2]?.params).toMatchObject({ SipResponseCode: '487', CallDuration: '0' });
  });

  test('Status=canceled leaves an in-progress call alone; Status=completed hangs it up', async () => {
    fx.carrier.queueOutcomes(['hold']);
    const call = await dial('+14155554201');
    await fx.carrier.waitForCall(call.sid, 'in-progress');
    expect((await fx.client.calls(call.sid).update({ status: 'canceled' })).status).toBe('in-progress');
    const hungUp = await fx.client.calls(call.sid).update({ status: 'completed' });
    expect(hungUp.status).toBe('completed');
    expect(hungUp.endTime).toBeInstanceOf(Date);
    expect(hungUp.duration).toBe('1');
    const got = await fx.receiver.waitForCall(call.sid, 4);
    expect(got[3]?.params).toMatchObject({ CallStatus: 'completed', CallDuration: '1' });
  });

  test('updating a finished call is 21220; deleting a live one too; a deleted call is gone (20404)', async () => {
    fx.carrier.queueOutcomes(['hold']);
    const live = await dial('+14155554301');
    await fx.carrier.waitForCall(live.sid, 'in-progress');
    const liveDelete = await rejection(fx.client.calls(live.sid).remove());
    expect([liveDelete.status, liveDelete.code]).toEqual([400, 21220]);

    const done = await dial('+14155554302');
    await fx.carrier.waitForCall(done.sid, 'completed');
    for (const status of ['completed', 'canceled'] as const) {
      const err = await rejection(fx.client.calls(done.sid).update({ status }));
      expect(err).toBeInstanceOf(twilio.RestException);
      expect([err.status, err.code]).toEqual([400, 21220]);
    }
    const redirect = await rejection(fx.client.calls(done.sid).update({ url: 'http://127.0.0.1/other' }));
    expect(redirect.code).toBe(21220);

    expect(await fx.client.calls(done.sid).remove()).toBe(true);
    const gone = await rejection(fx.client.calls(done.sid).fetch());
    expect([gone.status, gone.code]).toEqual([404, 20404]);
    fx.carrier.releaseAll();
  });

  test('a new StatusCallback on a live call receives the rest of its callbacks', async () => {
    fx.carrier.queueOutcomes(['hold']);
    const call = await dial('+14155554401');
    await fx.carrier.waitForCall(call.sid, 'in-progress');
    await fx.client.calls(call.sid).update({ statusCallback: `${fx.receiver.url}/moved` });
    fx.carrier.releaseCall(call.sid);
    const got = await fx.receiver.waitForCall(call.sid, 4);
    expect(got[3]?.url).toBe(`${fx.receiver.url}/moved`);
    expect(got[3]?.valid).toBe(true);
  });
});

describe('list', () => {
  test('filters by To, From, Status and StartTime, newest first, with paging the SDK follows', async () => {
    const other = '+14155550199';
    const sids: string[] = [];
    for (let i = 0; i < 5; i++) sids.push((await dial(`+1415555500${i}`, i === 4 ? { from: other } : {})).sid);
    fx.carrier.setScripts([{ to: '+14155555009', outcome: 'busy' }]);
    sids.push((await dial('+14155555009')).sid);
    await fx.carrier.whenIdle();

    expect((await fx.client.calls.list({ to: '+14155555002' })).map((c) => c.sid)).toEqual([sids[2]]);
    expect((await fx.client.calls.list({ from: other })).map((c) => c.sid)).toEqual([sids[4]]);
    expect((await fx.client.calls.list({ status: 'busy' })).map((c) => c.sid)).toEqual([sids[5]]);
    expect(await fx.client.calls.list({ status: 'completed' })).toHaveLength(5);
    expect(await fx.client.calls.list({ startTime: new Date() })).toHaveLength(6);
    expect(await fx.client.calls.list({ startTimeAfter: new Date(Date.now() + 60_000) })).toHaveLength(0);
    expect(await fx.client.calls.list({ startTimeBefore: new Date(Date.now() + 60_000) })).toHaveLength(6);

    const all = await fx.client.calls.list({ pageSize: 2 });
    expect(all.map((c) => c.sid)).toEqual([...sids].reverse());
    const page = await fx.client.calls.page({ pageSize: 4 });
    expect(page.instances).toHaveLength(4);
    expect(page.nextPageUrl).toContain('PageToken=PA');
    const second = await page.nextPage();
    expect(second?.instances.map((c) => c.sid)).toEqual([sids[1], sids[0]]);
    expect(second?.nextPageUrl).toBeUndefined();
  });
});
