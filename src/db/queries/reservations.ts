/**
 * The SQL that reserves one claim's calls, shared by the statements that claim: a run's jobs
 * (src/db/queries/jobs.ts `claimQueuedJobs`) and a direct call (calls.ts `insertReservedCallUnderLimit`).
 */

/** Where reserveCallsSql finds its parameters: their numbers in the statement. */
export interface ReservationParams {
  business: number;
  from: number;
  /** The run (null: a direct call). */
  run: number;
  /** The business's previous claim (refillsSince), and how far back a freed slot still counts. */
  since: number;
  horizon: number;
  /** Refill waits already reported by an earlier round of the same claim (absent: none). */
  offset?: number;
  /** The `reserved` CTE returns the rows it inserted (a direct call hands its row on; a run's claim reads none). */
  returning?: boolean;
}

/**
 * The CTEs that reserve one claim's calls, for a statement with the calls to reserve in CTE
 * `to_reserve` (id, job_id, phone, url, on_machine, amd_url): the run's claimed count (the fair
 * share's tie-break), the `reserved` rows (their insert moves the business's slot version and
 * last-claim stamp: drizzle/0022_slot_version.sql), and `refills`: the
 * refill waits (src/metrics/slot-refill.ts), seconds since each of up to that many of the
 * business's slots freed (terminal status) after its previous claim and within the horizon, oldest
 * first. Its reads see the calls as they were before the statement.
 */
export function reserveCallsSql(p: ReservationParams): string {
  const n = '(SELECT count(*) FROM to_reserve)';
  return `counted AS (UPDATE bulk_call_runs SET jobs_claimed = jobs_claimed + ${n} WHERE id = $${p.run} AND EXISTS (SELECT 1 FROM to_reserve)),
     reserved AS (
       INSERT INTO calls (id, business_id, direction, status, to_number, from_number, run_id, job_id, status_callback_url, on_machine, amd_callback_url)
       SELECT r.id, $${p.business}, CASE WHEN $${p.run}::uuid IS NULL THEN 'direct' ELSE 'bulk' END, 'reserved', r.phone, $${p.from}, $${p.run}, r.job_id, r.url, r.on_machine, r.amd_url
         FROM to_reserve r
       ${p.returning ? 'RETURNING *' : ''}
     ),
     refills AS (
       SELECT coalesce(array_agg(w.seconds ORDER BY w.ended_at), '{}') AS waits FROM (
         SELECT ended_at, extract(epoch FROM clock_timestamp() - ended_at)::float8 AS seconds FROM calls
          WHERE business_id = $${p.business} AND ended_at IS NOT NULL AND ended_at > greatest($${p.since}::timestamptz, now() - make_interval(secs => $${p.horizon}))
          ORDER BY ended_at LIMIT ${n} OFFSET ${p.offset === undefined ? '0' : `$${p.offset}`}
       ) w
     )`;
}
