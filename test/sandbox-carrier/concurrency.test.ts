import { useCarrierFixture } from './helpers';

/**
 * Later tests measure Outdial's concurrency limit with these counts, so they must be exact: live
 * from the accepted create until the terminal status, and down before the terminal callback leaves.
 */

const fx = useCarrierFixture();

const dial = (to: string, from: string) => fx.client.calls.create({ to, from, url: fx.receiver.twimlUrl(), statusCallback: `${fx.receiver.url}/status` });

test('7 calls held open at once give a peak of exactly 7; after release live is 0; a later batch that never overlaps leaves the peak at 7', async () => {
  const from = '+16505550701';
  const bystander = '+16505550702';
  fx.carrier.setScripts([{ to: '+1415558*', outcome: 'hold' }]);
  await Promise.all(Array.from({ length: 7 }, (_, i) => dial(`+1415558000${i}`, from)));
  await dial('+14155559000', bystander);
  await fx.carrier.waitForCalls(7, { from, status: 'in-progress' });

  expect(fx.carrier.stats().perFrom[from]).toEqual({ live: 7, peak: 7 });
  expect(fx.carrier.stats().perAccount[fx.carrier.accountSid]).toEqual({ live: 8, peak: 8 });

  expect(fx.carrier.releaseAll()).toBe(7);
  // Released calls end synchronously: the count is already down.
  expect(fx.carrier.stats().perFrom[from]).toEqual({ live: 0, peak: 7 });
  await fx.carrier.whenIdle();

  for (let i = 0; i < 5; i++) {
    const call = await dial(`+1415559010${i}`, from);
    await fx.carrier.waitForCall(call.sid, 'completed');
    expect(fx.carrier.stats().perFrom[from]?.live).toBe(0);
  }
  expect(fx.carrier.stats().perFrom[from]).toEqual({ live: 0, peak: 7 });
  expect(fx.carrier.stats().perFrom[bystander]).toEqual({ live: 0, peak: 1 });
  expect(fx.carrier.calls({ from })).toHaveLength(12);
});

test('a call is live from the accepted create (still queued) and leaves the count when canceled', async () => {
  const from = '+16505550703';
  fx.carrier.setAccountLimits({ callsPerSecond: 1 });
  const calls = [];
  for (let i = 0; i < 3; i++) calls.push(await dial(`+1415559100${i}`, from));
  expect(fx.carrier.stats().perFrom[from]).toEqual({ live: 3, peak: 3 });
  expect(fx.carrier.calls({ from, status: 'queued' }).length).toBeGreaterThanOrEqual(2);
  for (const c of calls.slice(1)) await fx.client.calls(c.sid).update({ status: 'canceled' });
  expect(fx.carrier.stats().perFrom[from]?.live).toBeLessThanOrEqual(1);
  await fx.carrier.whenIdle();
  expect(fx.carrier.stats().perFrom[from]).toEqual({ live: 0, peak: 3 });
  expect(fx.carrier.stats().perAccount[fx.carrier.accountSid]).toEqual({ live: 0, peak: 3 });
});

test('the count is down before the terminal callback is sent, so redialling on `completed` never shows a false peak', async () => {
  const from = '+16505550704';
  const seenLive: number[] = [];
  let dialled = 1;
  const failures: unknown[] = [];
  fx.receiver.hook = (cb) => {
    if (cb.params.CallStatus !== 'completed') return false;
    seenLive.push(fx.carrier.stats().perFrom[from]?.live ?? -1);
    if (dialled < 6) {
      dialled++;
      dial(`+1415559200${dialled}`, from).catch((err: unknown) => failures.push(err));
    }
    return false;
  };
  await dial('+14155592001', from);
  await fx.receiver.waitFor((all) => all.filter((c) => c.params.CallStatus === 'completed').length === 6);
  await fx.carrier.whenIdle();
  expect(failures).toEqual([]);
  expect(seenLive).toEqual([0, 0, 0, 0, 0, 0]);
  expect(fx.carrier.stats().perFrom[from]).toEqual({ live: 0, peak: 1 });
});

test('held calls across two From numbers are counted per From and per account', async () => {
  fx.carrier.queueOutcomes(['hold', 'hold', 'hold']);
  const [a, b] = ['+16505550705', '+16505550706'];
  await Promise.all([dial('+14155593001', a), dial('+14155593002', a), dial('+14155593003', b)]);
  await fx.carrier.waitForCalls(3, { status: 'in-progress' });
  const stats = fx.carrier.stats();
  expect(stats.perFrom[a]).toEqual({ live: 2, peak: 2 });
  expect(stats.perFrom[b]).toEqual({ live: 1, peak: 1 });
  expect(stats.perAccount[fx.carrier.accountSid]).toEqual({ live: 3, peak: 3 });
  fx.carrier.releaseAll();
  await fx.carrier.whenIdle();
  expect(fx.carrier.stats().perAccount[fx.carrier.accountSid]).toEqual({ live: 0, peak: 3 });
});
