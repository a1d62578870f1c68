import { CpsQueue } from '../../src/sandbox-carrier/cps-queue';

/** The dial pace, on a fake clock: exact slots, no burst after idling, catch-up above timer resolution. */

beforeEach(() => jest.useFakeTimers({ now: 1_000_000 }));
afterEach(() => jest.useRealTimers());

function queue(cps: number) {
  const released: Array<[string, number]> = [];
  const q = new CpsQueue<string>(cps, (item) => released.push([item, Date.now() - 1_000_000]));
  return { q, released };
}

test('releases one call per slot, and the queue_time estimates match the slots', () => {
  const { q, released } = queue(10);
  expect(['a', 'b', 'c'].map((x) => q.push(x))).toEqual([0, 100, 200]);
  jest.advanceTimersByTime(0);
  expect(released).toEqual([['a', 0]]);
  jest.advanceTimersByTime(250);
  expect(released).toEqual([
    ['a', 0],
    ['b', 100],
    ['c', 200],
  ]);
  expect(q.length).toBe(0);
});

test('after an idle spell the pace restarts from now, without a burst of missed slots', () => {
  const { q, released } = queue(10);
  q.push('a');
  jest.advanceTimersByTime(1_000);
  q.push('b');
  q.push('c');
  jest.advanceTimersByTime(0);
  expect(released.map(([x]) => x)).toEqual(['a', 'b']);
  jest.advanceTimersByTime(99);
  expect(released.map(([x]) => x)).toEqual(['a', 'b']);
  jest.advanceTimersByTime(1);
  expect(released).toEqual([
    ['a', 0],
    ['b', 1_000],
    ['c', 1_100],
  ]);
});

test('a removed (canceled) call gives its slot to the next one', () => {
  const { q, released } = queue(10);
  for (const x of ['a', 'b', 'c']) q.push(x);
  expect(q.remove('b')).toBe(true);
  expect(q.remove('b')).toBe(false);
  jest.advanceTimersByTime(150);
  expect(released).toEqual([
    ['a', 0],
    ['c', 100],
  ]);
});

test('a CPS finer than the timer resolution still averages out (5000 CPS: 50 calls in 10 ms)', () => {
  const { q, released } = queue(5_000);
  for (let i = 0; i < 50; i++) q.push(String(i));
  jest.advanceTimersByTime(10);
  expect(released).toHaveLength(50);
  expect(released.at(-1)?.[1]).toBeLessThanOrEqual(10);
});

test('raising the CPS takes effect on the waiting calls', () => {
  const { q, released } = queue(1);
  for (const x of ['a', 'b', 'c']) q.push(x);
  jest.advanceTimersByTime(0);
  q.setCallsPerSecond(100);
  jest.advanceTimersByTime(20);
  expect(released.map(([x]) => x)).toEqual(['a', 'b', 'c']);
});
