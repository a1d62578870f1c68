import type { DialPassSummary } from './messages';

/**
 * The one-line summaries a run's commands carry into the Temporal Web UI's timeline (Temporal user
 * metadata), so an operator reads there what each step did. Built only from activity results and
 * workflow time, so replay gives the same text; metadata is not part of Temporal's determinism check.
 */

/** The dial pass as scheduled: what it does, and how full the business was after the pass before. */
export function dialPassActivitySummary(last: DialPassSummary | null): string {
  return last && last.limit > 0 ? `claim and dial: ${last.active}/${last.limit} active` : 'claim and dial';
}

/** The timer after a pass: what the pass did, then what the run waits for. */
export function waitTimerSummary(pass: DialPassSummary, waitMs: number): string {
  return `${passOutcome(pass)}; ${waitReason(pass, waitMs)}`;
}

/** The run's state in one line, shown as the workflow's current details. */
export function runDetails(dialedTotal: number, pass: DialPassSummary, waitMs: number): string {
  return `dialed ${dialedTotal} so far; ${pass.queued} queued, ${pass.dialing} dialing; ${waitReason(pass, waitMs)}`;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function passOutcome(pass: DialPassSummary): string {
  const parts = [pass.dialed > 0 ? `dialed ${plural(pass.dialed, 'lead')}` : 'dialed none'];
  if (pass.rejected > 0) parts.push(`${pass.rejected} rejected`);
  if (pass.notSent > 0) parts.push(`${pass.notSent} not sent`);
  if (pass.unknown > 0) parts.push(`${pass.unknown} unknown`);
  if (pass.skippedDoNotCall) parts.push(`${pass.skippedDoNotCall} skipped (do-not-call)`);
  // A pass that found nothing dialable reads no slots: its limit is 0.
  if (pass.limit > 0) parts.push(`${pass.active}/${pass.limit} active`);
  return parts.join(', ');
}

function waitReason(pass: DialPassSummary, waitMs: number): string {
  const waiting = pass.waiting;
  if (waiting) {
    const at = waiting.untilLocal ?? waiting.until;
    switch (waiting.reason) {
      case 'calling-window':
        return at ? `waiting until ${at} (calling window)` : 'waiting for a calling window to open';
      case 'start-at':
        return at ? `waiting for the start time, ${at}` : 'waiting for the start time';
      case 'retry':
        return at ? `retry due at ${at}` : 'waiting for a retry to come due';
      case 'call-at':
        return at ? `a lead's callAt, ${at}` : "waiting for a lead's callAt";
      case 'pacing':
        return `waiting for the carrier pace; next pass in ${duration(waitMs)}`;
      default:
        return `waiting (${waiting.reason}); next pass in ${duration(waitMs)}`;
    }
  }
  if (pass.notSent > 0) return `the carrier took no call; next pass in ${duration(waitMs)}`;
  if (pass.queued === 0 && pass.dialing === 0 && pass.keptOpen) return 'kept open: waiting for leads (or a close)';
  if (pass.queued === 0) return `waiting for ${plural(pass.dialing, 'call')} to end`;
  const heldBy = pass.heldBy && pass.heldBy !== 'business-limit' ? ` (held by ${pass.heldBy})` : '';
  return `waiting for a free slot${heldBy}; re-check in ${duration(waitMs)}`;
}

/** `800 ms`, `30 s`, `5 min`, `2 h 5 min`: how far off the timer fires. */
function duration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = Math.round(ms / 1000);
  if (s < 120) return `${s} s`;
  const min = Math.round(s / 60);
  if (min < 120) return `${min} min`;
  return `${Math.floor(min / 60)} h ${min % 60} min`;
}
