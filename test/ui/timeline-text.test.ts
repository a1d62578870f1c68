import { localTimeLabel } from '../../src/activities/dial';
import type { DialPassSummary } from '../../src/workflows/messages';
import { dialPassActivitySummary, runDetails, waitTimerSummary } from '../../src/workflows/timeline';

/** The texts the Web UI timeline shows for each kind of pass (the browser test sees the common ones on a real run). */

const pass = (p: Partial<DialPassSummary>): DialPassSummary => ({
  runStatus: 'running',
  dialed: 0,
  rejected: 0,
  notSent: 0,
  unknown: 0,
  queued: 0,
  dialing: 0,
  active: 0,
  limit: 0,
  ...p,
});

describe('run timeline texts', () => {
  test('a pass: what it dialed and what the run waits for', () => {
    expect(dialPassActivitySummary(null)).toBe('claim and dial');
    expect(dialPassActivitySummary(pass({ active: 3, limit: 3 }))).toBe('claim and dial: 3/3 active');
    const full = pass({ dialed: 3, queued: 7, dialing: 3, active: 3, limit: 3, heldBy: null });
    expect(waitTimerSummary(full, 30_000)).toBe('dialed 3 leads, 3/3 active; waiting for a free slot; re-check in 30 s');
    expect(runDetails(12, full, 30_000)).toBe('dialed 12 so far; 7 queued, 3 dialing; waiting for a free slot; re-check in 30 s');
    expect(waitTimerSummary(pass({ queued: 4, dialing: 1, active: 1, limit: 5, heldBy: 'fair-share' }), 3_600_000)).toBe(
      'dialed none, 1/5 active; waiting for a free slot (held by fair-share); re-check in 60 min',
    );
    expect(waitTimerSummary(pass({ dialed: 1, notSent: 2, skippedDoNotCall: 1, queued: 2, dialing: 1, active: 1, limit: 3 }), 2_000)).toBe(
      'dialed 1 lead, 2 not sent, 1 skipped (do-not-call), 1/3 active; the carrier took no call; next pass in 2 s',
    );
    expect(waitTimerSummary(pass({ dialing: 1, active: 1, limit: 3 }), 3_600_000)).toBe('dialed none, 1/3 active; waiting for 1 call to end');
  });

  test('waits for a moment name it in the business zone, as the activity found it', () => {
    const retry = pass({ queued: 2, waiting: { reason: 'retry', until: '2026-12-01T15:05:00.000Z', untilLocal: '09:05 America/Chicago' } });
    expect(waitTimerSummary(retry, 600_000)).toBe('dialed none; retry due at 09:05 America/Chicago');
    const window = pass({ queued: 2, waiting: { reason: 'calling-window', until: null } });
    expect(waitTimerSummary(window, 3_600_000)).toBe('dialed none; waiting for a calling window to open');
    // A pass recorded before local labels: the instant itself.
    const old = pass({ queued: 2, waiting: { reason: 'start-at', until: '2026-12-01T15:00:00.000Z' } });
    expect(waitTimerSummary(old, 3_600_000)).toBe('dialed none; waiting for the start time, 2026-12-01T15:00:00.000Z');
    expect(waitTimerSummary(pass({ queued: 2, waiting: { reason: 'pacing', until: null } }), 200)).toBe('dialed none; waiting for the carrier pace; next pass in 200 ms');
  });

  test('a local time: the hour today there, with the date on another day', () => {
    const now = new Date('2026-12-01T10:00:00Z'); // 04:00 in Chicago, Tuesday
    expect(localTimeLabel(new Date('2026-12-01T15:00:00Z'), 'America/Chicago', now)).toBe('09:00 America/Chicago');
    expect(localTimeLabel(new Date('2026-12-02T15:00:00Z'), 'America/Chicago', now)).toBe('Wed 2 Dec 09:00 America/Chicago');
    // Past midnight UTC but the same day in Chicago.
    expect(localTimeLabel(new Date('2026-12-02T02:30:00Z'), 'America/Chicago', now)).toBe('20:30 America/Chicago');
  });
});
