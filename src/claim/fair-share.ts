/**
 * How the slots a business's runs may use are shared between its running runs.
 *
 * "Fair" here is max-min fairness: every run that has queued jobs is entitled to an equal part of
 * the runs' slots, a run capped below its part (its own maxConcurrentCalls) gets its cap and the rest
 * is shared among the others; a run with nothing queued keeps what it holds and no more. Slots that
 * do not divide evenly go to the runs that have claimed the fewest jobs so far (then by ID), so equal
 * runs take the odd slot in turn and progress side by side.
 *
 * Why no run waits while another takes every freed slot: a claim takes only up to its run's share
 * minus what the run already holds. A run above its share (it started alone, say) claims nothing
 * until its calls end, so each slot it frees goes to a run below its share: the freed slot wakes
 * every run of the business, and only a run below its share can take it. Shares are computed under
 * the business's slot lock from committed rows, so two claims never both believe they are owed the
 * same slot.
 */

export interface RunDemand {
  runId: string;
  /** The run's active calls. */
  active: number;
  /** The run's own cap; null = none. */
  cap: number | null;
  /** Has queued jobs: wants more slots. */
  waiting: boolean;
  /** Jobs claimed so far: the tie-break for slots that do not divide evenly. */
  claimed: number;
}

/** Each run's share of `capacity` slots (the business's limit minus its reserved direct slots). */
export function fairShares(capacity: number, runs: readonly RunDemand[]): Map<string, number> {
  const shares = new Map<string, number>();
  let left = capacity;
  for (const run of runs) {
    if (run.waiting) continue;
    shares.set(run.runId, run.active);
    left -= run.active;
  }
  const capOf = (run: RunDemand) => run.cap ?? Number.POSITIVE_INFINITY;
  // Fewest claimed first: they get the slots that do not divide evenly.
  let open = runs
    .filter((r) => r.waiting && capOf(r) > 0)
    .sort((a, b) => a.claimed - b.claimed || (a.runId < b.runId ? -1 : a.runId > b.runId ? 1 : 0));
  for (const run of runs) if (run.waiting) shares.set(run.runId, 0);
  while (left > 0 && open.length > 0) {
    const each = Math.floor(left / open.length);
    if (each === 0) {
      for (const run of open.slice(0, left)) shares.set(run.runId, (shares.get(run.runId) ?? 0) + 1);
      break;
    }
    for (const run of open) {
      const given = Math.min(each, capOf(run) - (shares.get(run.runId) ?? 0));
      shares.set(run.runId, (shares.get(run.runId) ?? 0) + given);
      left -= given;
    }
    open = open.filter((r) => (shares.get(r.runId) ?? 0) < capOf(r));
  }
  return shares;
}
