import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { PoolClient } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { CallingWindow, LeadVariables } from '../settings';
import type { CallStatus, JobStatus, OnMachinePolicy, RunStatus } from '../statuses';
import type { Executor } from './executor';
import { reserveCallsSql } from './reservations';

/** Queries of the `leads` and `outbound_call_jobs` tables: a run's list and where each lead stands. */

export interface NewLead {
  phone: string;
  name?: string | undefined;
  variables?: LeadVariables | undefined;
  /** Candidate IANA zones; absent = unknown (the business's zone). */
  timeZones?: string[] | null | undefined;
  /** Its first attempt is not dialed before this (the job's `not_before`, as a retry's). */
  callAt?: Date | undefined;
}

/** Rows per piece of a COPY: the text is built a piece at a time while Postgres reads the last. */
const COPY_PIECE_ROWS = 2000;

const COPY_SPECIAL = /[\\\t\n\r]/;
const COPY_SPECIALS = /[\\\t\n\r]/g;
const COPY_ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };

/** A value in COPY's text format: backslash, tab and line breaks escaped; null is `\N`. */
function copyField(value: string | null | undefined): string {
  if (value === null || value === undefined) return '\\N';
  return COPY_SPECIAL.test(value) ? value.replace(COPY_SPECIALS, (c) => COPY_ESCAPES[c]!) : value;
}

/** A text[] literal: every element quoted, its quotes and backslashes escaped. */
function textArrayLiteral(values: string[]): string {
  return `{${values.map((v) => `"${v.replace(/["\\]/g, '\\$&')}"`).join(',')}}`;
}

/** The COPY field of a lead's zones: a list repeats a few zone sets, so each set's text is made once. */
function zonesField(literals: Map<string, string>, zones: string[] | null | undefined): string {
  if (!zones) return '\\N';
  const key = zones.join('\n');
  let field = literals.get(key);
  if (field === undefined) literals.set(key, (field = copyField(textArrayLiteral(zones))));
  return field;
}

/** Streams rows into `COPY <target> FROM STDIN`: one statement, whatever the count. */
async function copyRows<T>(client: PoolClient, target: string, rows: T[], line: (row: T, index: number) => string): Promise<void> {
  function* pieces() {
    for (let start = 0; start < rows.length; start += COPY_PIECE_ROWS) {
      let piece = '';
      for (let i = start; i < Math.min(rows.length, start + COPY_PIECE_ROWS); i++) piece += line(rows[i]!, i) + '\n';
      yield piece;
    }
  }
  await pipeline(Readable.from(pieces()), client.query(copyFrom(`COPY ${target} FROM STDIN`)));
}

/**
 * Leads of a run and one job each, in the order given (that is the order they are dialed), the
 * first at `firstPosition`: a run's list may come in several chunks. COPY, not INSERT: 100,000 leads
 * as parameter arrays cost seconds to encode and unnest; a COPY streams them (the constraints are
 * checked the same, the references to the business, run and lead once per COPY: drizzle/0016_statement_references.sql).
 */
export async function insertLeadsAndJobs(client: PoolClient, run: { id: string; businessId: string }, leads: NewLead[], firstPosition: number): Promise<void> {
  const { id: runId, businessId } = run;
  const leadIds = ascendingUuids(leads.length);
  const zoneLiterals = new Map<string, string>();
  await copyRows(
    client,
    'leads (id, business_id, phone, name, variables, time_zones)',
    leads,
    (lead, i) =>
      `${leadIds[i]}\t${businessId}\t${copyField(lead.phone)}\t${copyField(lead.name)}\t${copyField(lead.variables ? JSON.stringify(lead.variables) : null)}\t${zonesField(zoneLiterals, lead.timeZones)}`,
  );
  const jobIds = ascendingUuids(leads.length);
  await copyRows(
    client,
    'outbound_call_jobs (id, run_id, lead_id, position, not_before)',
    leadIds,
    (leadId, i) => `${jobIds[i]}\t${runId}\t${leadId}\t${firstPosition + i}\t${leads[i]!.callAt?.toISOString() ?? '\\N'}`,
  );
}

/** Where a run's list ends: its leads so far, and the position the next one takes. */
export async function runListEnd(db: Executor, runId: string): Promise<{ leads: number; nextPosition: number }> {
  const r = await db.query<{ leads: string; next: number }>(
    'SELECT count(*) FILTER (WHERE attempt = 1) AS leads, coalesce(max(position) + 1, 0) AS next FROM outbound_call_jobs WHERE run_id = $1',
    [runId],
  );
  return { leads: Number(r.rows[0]?.leads ?? 0), nextPosition: r.rows[0]?.next ?? 0 };
}

/** The numbers a run's list holds (each once). */
export async function runListPhones(db: Executor, runId: string): Promise<string[]> {
  const r = await db.query<{ phone: string }>(
    'SELECT DISTINCT l.phone FROM outbound_call_jobs j JOIN leads l ON l.id = j.lead_id WHERE j.run_id = $1 AND j.attempt = 1',
    [runId],
  );
  return r.rows.map((row) => row.phone);
}

/**
 * `count` new UUIDs (version 7: the time in milliseconds, then random bits), in ascending order, so
 * the primary-key indexes and the jobs' foreign-key checks go in order, chunk after chunk (random
 * ids cost Postgres about 15% more work on a 100,000-lead run).
 */
function ascendingUuids(count: number): string[] {
  const time = Date.now().toString(16).padStart(12, '0');
  const prefix = `${time.slice(0, 8)}-${time.slice(8, 12)}-`;
  const random = randomBytes(10 * count);
  for (let i = 0; i < count; i++) {
    random[10 * i] = (random[10 * i]! & 0x0f) | 0x70; // version 7
    random[10 * i + 2] = (random[10 * i + 2]! & 0x3f) | 0x80; // RFC 9562 variant
  }
  // One hex string for all, cut into ids: a conversion per id cost as much as the rest of the line.
  const hex = random.toString('hex');
  const ids = new Array<string>(count);
  for (let i = 0, h = 0; i < count; i++, h += 20) ids[i] = `${prefix}${hex.slice(h, h + 4)}-${hex.slice(h + 4, h + 8)}-${hex.slice(h + 8, h + 20)}`;
  return ids.sort();
}

export interface ClaimedJob {
  id: string;
  lead_id: string;
  position: number;
  phone: string;
  name: string | null;
  variables: LeadVariables | null;
  /** The reserved call row inserted for it, with the callback URLs it was given. */
  call_id: string;
  status_callback_url: string;
  amd_callback_url: string | null;
}

/**
 * The longest a claimed call may wait for its dial: `beginDials` refuses (and re-queues) an older
 * reservation, so a claim that checks the window now and this much later never dials outside it.
 */
export const MAX_DIAL_DELAY_SECONDS = 10;

/**
 * How many listed numbers a round of the claim can step over beyond the jobs it wants, by round. A
 * round reads, checks (two window tests, a do-not-call probe) and locks every candidate, and most
 * claims meet no listed number: the first round reads only the jobs it wants (a fixed lookahead of
 * 16 made a one-job claim's statement 1.0 ms, against 0.78). A round that met the list steps over
 * more in the next, so a long row of listed numbers still takes only a few rounds under the lock.
 */
const LISTED_LOOKAHEAD_BY_ROUND = [0, 16, 64, 256];

/** The call rows a claim may reserve, one per job it may claim, in order: IDs and callback URLs fixed before the statement. */
export interface ClaimReservation {
  from: string;
  onMachine: OnMachinePolicy | null;
  calls: { id: string; statusCallbackUrl: string; amdCallbackUrl: string | null }[];
  refills: { since: Date | null; horizonSeconds: number };
}

/**
 * The conditional claim and its reservation, one statement a round: the next queued jobs of the run,
 * in order, move to `dialing` under this caller's lock token, skipping any job another claimer holds,
 * and each gets its `reserved` call row (reserveCallsSql), the k-th job claimed the k-th of
 * `reservation.calls`. A picked job whose number is on the business's or the global do-not-call
 * list ends `skipped_dnc` in the same statement instead, and takes no slot: the claim picks again
 * until it has `reservation.calls.length` dialable jobs or the queue is empty. (Each round reads the
 * list as committed when it starts, after the slot lock was taken: a number listed before the claim
 * is never claimed.) Returns the refill waits of the slots the claim refilled. Run under the
 * business's slot lock.
 */
export async function claimQueuedJobs(
  client: PoolClient,
  run: ClaimingRun,
  reservation: ClaimReservation,
  lockToken: string,
): Promise<{ claimed: ClaimedJob[]; skipped: number; refills: number[]; stale: boolean }> {
  const max = reservation.calls.length;
  const claimed: ClaimedJob[] = [];
  const refills: number[] = [];
  let skipped = 0;
  let stale = false;
  for (let round = 0; ; round++) {
    const now = await claimRound(client, run, { ...reservation, calls: reservation.calls.slice(claimed.length) }, lockToken, { round, offset: claimed.length, gate: null });
    skipped += now.skipped;
    refills.push(...now.refills);
    claimed.push(...now.claimed);
    // The run's row, once locked, says it no longer runs (a cancel or pause committed since the reading).
    stale ||= now.stale;
    // Only a round that lost picks to the list can have left dialable jobs behind.
    if (now.skipped === 0 || claimed.length >= max) break;
  }
  return { claimed: claimed.sort((a, b) => a.position - b.position), skipped, refills, stale };
}

export interface ClaimingRun {
  id: string;
  businessId: string;
  timeZone: string;
  window: CallingWindow;
}

/**
 * One round of the claim (claimQueuedJobs), as one statement. With a `gate` it needs no slot lock:
 * the statement takes the business's row lock itself and claims only if the business's slot version
 * is still the one its slots were counted at and the run still runs, between its start and stop;
 * `stale` says it was not (it wrote nothing). Every reservation moves the version (a trigger on
 * `calls`: drizzle/0022_slot_version.sql; so does a change of the limits, window or zone), so a
 * gated claim commits only if no slot was taken since it counted: what the slot lock guarantees a
 * locked claim. Gated or not, it claims only while the
 * run's row, once locked, says the run runs: a cancel commits its status before it ends the queued
 * jobs (endQueuedJobs), so a claim that read the run running may meet it canceling (`stale` then).
 * Locks in the order business, run, jobs, gated or not: each batch of a cancel locks the run's row
 * before its queued jobs, so a claim that locked jobs first could deadlock with it.
 * `offset`: refill waits already reported by earlier rounds of the same claim.
 */
export async function claimRound(
  db: Executor,
  run: ClaimingRun,
  reservation: ClaimReservation,
  lockToken: string,
  { round, offset, gate }: { round: number; offset: number; gate: { slotVersion: string } | null },
): Promise<{ claimed: ClaimedJob[]; skipped: number; refills: number[]; stale: boolean }> {
  const lookahead = LISTED_LOOKAHEAD_BY_ROUND[Math.min(round, LISTED_LOOKAHEAD_BY_ROUND.length - 1)]!;
  const r = await db.query<ClaimedJob & { skipped: boolean; stale: boolean; refills: number[] | null }>(
    `WITH ${gate ? `slot_lock AS (SELECT b.id FROM businesses b WHERE b.id = $4 AND b.slot_version = $17::bigint FOR NO KEY UPDATE),` : ''}
       -- The run as its row stands once locked (a cancel's status may have committed since the
       -- slots were read, under the slot lock or not): only a running run between its start and stop claims.
       gate AS (
         SELECT r.business_id AS id FROM bulk_call_runs r
          WHERE r.id = $1 AND r.status = 'running' AND coalesce(r.start_at <= now(), true) AND coalesce(r.stop_at > now(), true)
            ${gate ? 'AND EXISTS (SELECT 1 FROM slot_lock)' : ''}
          FOR NO KEY UPDATE
       ),
       candidates AS (
         SELECT j.id, j.position,
                EXISTS (SELECT 1 FROM do_not_call_numbers d WHERE d.phone = l.phone AND (d.business_id = $4 OR d.business_id IS NULL)) AS listed
           FROM outbound_call_jobs j JOIN leads l ON l.id = j.lead_id
          WHERE j.run_id = $1 AND j.status = 'queued' AND (j.not_before IS NULL OR j.not_before <= now()) AND EXISTS (SELECT 1 FROM gate)
            -- Inside the lead's window now and still when the dial may at the latest be placed.
            AND outdial_in_window(now(), coalesce(l.time_zones, ARRAY[$6]), $7::jsonb)
            AND outdial_in_window(now() + make_interval(secs => $8), coalesce(l.time_zones, ARRAY[$6]), $7::jsonb)
          ORDER BY j.position
          LIMIT $2::int + $5::int
          FOR UPDATE OF j SKIP LOCKED
       ),
       -- n: how many dialable jobs come up to this one. Keep the first $2 dialable jobs and the listed ones before the last of them.
       numbered AS (SELECT id, listed, count(*) FILTER (WHERE NOT listed) OVER (ORDER BY position) AS n FROM candidates),
       picked AS (SELECT id, listed FROM numbered WHERE n <= $2::int AND NOT (listed AND n = $2::int)),
       skip AS (
         UPDATE outbound_call_jobs j SET status = 'skipped_dnc', last_error = 'the number is on a do-not-call list', finished_at = now(), updated_at = now()
           FROM picked WHERE j.id = picked.id AND picked.listed
         RETURNING j.id
       ),
       claim AS (
         UPDATE outbound_call_jobs j
            SET status = 'dialing', dial_started_at = now(), dial_lock_token = $3, updated_at = now()
           FROM picked
          WHERE j.id = picked.id AND NOT picked.listed
            AND j.status = 'queued' AND j.twilio_call_sid IS NULL AND j.dial_lock_token IS NULL
         RETURNING j.id, j.lead_id, j.position
       ),
       to_reserve AS (
         SELECT c.id AS job_id, c.lead_id, c.position, l.phone, l.name, l.variables, i.id, i.url, $12::text AS on_machine, i.amd_url
           FROM (SELECT claim.*, row_number() OVER (ORDER BY claim.position) AS k FROM claim) c
           JOIN leads l ON l.id = c.lead_id
           JOIN unnest($9::uuid[], $10::text[], $11::text[]) WITH ORDINALITY AS i(id, url, amd_url, k) ON i.k = c.k
       ),
       ${reserveCallsSql({ business: 4, from: 13, run: 1, since: 14, horizon: 15, offset: 16 })}
       SELECT r.job_id AS id, r.lead_id, r.position, r.phone, r.name, r.variables, r.id AS call_id, r.url AS status_callback_url, r.amd_url AS amd_callback_url,
              false AS skipped, false AS stale, (SELECT waits FROM refills) AS refills FROM to_reserve r
       UNION ALL
       SELECT s.id, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, true, false, NULL FROM skip s
       UNION ALL
       SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, false, true, NULL WHERE NOT EXISTS (SELECT 1 FROM gate)`,
    [
      run.id,
      reservation.calls.length,
      lockToken,
      run.businessId,
      lookahead,
      run.timeZone,
      run.window,
      MAX_DIAL_DELAY_SECONDS,
      reservation.calls.map((c) => c.id),
      reservation.calls.map((c) => c.statusCallbackUrl),
      reservation.calls.map((c) => c.amdCallbackUrl),
      reservation.onMachine,
      reservation.from,
      reservation.refills.since,
      reservation.refills.horizonSeconds,
      offset,
      ...(gate ? [gate.slotVersion] : []),
    ],
  );
  const claimed = r.rows.filter((row) => !row.skipped && !row.stale);
  return {
    claimed: claimed.map(({ skipped: _skipped, stale: _stale, refills: _refills, ...job }) => job),
    skipped: r.rows.filter((row) => row.skipped).length,
    refills: claimed[0]?.refills ?? [],
    stale: r.rows.some((row) => row.stale),
  };
}

/**
 * The next attempt of a lead whose attempt just ended, due `delaySeconds` from now, if its run still
 * dials (running or paused) and its stopAt (if any) comes after that. Returns whether it was queued.
 * It shares the run's row: a cancel in flight (its status changed, not yet committed) is waited
 * for, and then the run is found canceling, so no attempt is queued behind a cancel.
 */
export async function queueRetry(client: PoolClient, ended: { jobId: string; delaySeconds: number }): Promise<boolean> {
  const r = await client.query(
    `INSERT INTO outbound_call_jobs (run_id, lead_id, position, attempt, not_before)
     SELECT j.run_id, j.lead_id, j.position, j.attempt + 1, now() + make_interval(secs => $2)
       FROM outbound_call_jobs j JOIN bulk_call_runs r ON r.id = j.run_id
      WHERE j.id = $1 AND r.status IN ('running', 'paused')
        AND (r.stop_at IS NULL OR r.stop_at > now() + make_interval(secs => $2))
        FOR SHARE OF r
     ON CONFLICT (run_id, lead_id, attempt) DO NOTHING`,
    [ended.jobId, ended.delaySeconds],
  );
  return (r.rowCount ?? 0) > 0;
}

/**
 * Why a run's queued jobs end before they are dialed: the error each then carries, and what must
 * still hold of the run for each batch (a retried cancel, a backstop, may come late).
 */
const QUEUED_JOB_ENDINGS = {
  canceled: { error: null, runStatuses: ['canceling', 'canceled'] satisfies RunStatus[], pastStop: false },
  expired: { error: 'the run reached its stopAt before this lead was dialed', runStatuses: null, pastStop: true },
} as const;

/**
 * Ends every queued job of a run: `canceled` (the run is canceling) or `expired` (its stopAt has
 * passed); the one place either is done. At most `batch` jobs per statement, each its own
 * transaction when `db` is the pool: a 100,000-lead run's ending held the run's row for seconds in
 * one, and a claim of the run waited that long while holding its business's slot lock. Each batch
 * takes the run's row first (the lock order is business, run, jobs), so a cancel and an expiry
 * never lock each other's jobs. Claims take no job of such a run meanwhile (it is not running, or
 * past its stopAt, by their own reading).
 */
export async function endQueuedJobs(db: Executor, runId: string, end: keyof typeof QUEUED_JOB_ENDINGS, batch: number): Promise<number> {
  const { error, runStatuses, pastStop } = QUEUED_JOB_ENDINGS[end];
  let ended = 0;
  for (;;) {
    const r = await db.query(
      `WITH run AS (
         SELECT r.id FROM bulk_call_runs r
          WHERE r.id = $1 AND ($5::text[] IS NULL OR r.status = ANY($5)) AND (NOT $6 OR r.stop_at <= now())
          FOR NO KEY UPDATE
       ),
       ending AS (
         SELECT j.id FROM outbound_call_jobs j WHERE j.run_id = (SELECT id FROM run) AND j.status = 'queued'
          ORDER BY j.position LIMIT $4 FOR UPDATE
       )
       UPDATE outbound_call_jobs j SET status = $2, last_error = coalesce($3, j.last_error), finished_at = now(), updated_at = now()
         FROM ending WHERE j.id = ending.id AND j.status = 'queued'`,
      [runId, end, error, batch, runStatuses, pastStop],
    );
    const n = r.rowCount ?? 0;
    ended += n;
    if (n < batch) return ended;
  }
}

export interface JobTallies {
  byStatus: Map<string, number>;
  byOutcome: Map<string, number>;
  attempts: number;
}

/** The tallies of a run without jobs. */
export const noTallies = (): JobTallies => ({ byStatus: new Map(), byOutcome: new Map(), attempts: 0 });

/** A run's leads counted by the status and outcome of their latest attempt, and the attempts made. */
export async function jobTallies(db: Executor, runId: string): Promise<JobTallies> {
  return (await jobTalliesOf(db, [runId])).get(runId) ?? noTallies();
}

/** `jobTallies` of several runs in one query (absent = a run without jobs). */
export async function jobTalliesOf(db: Executor, runIds: readonly string[]): Promise<Map<string, JobTallies>> {
  const r = await db.query<{ run_id: string; status: string; outcome: string | null; n: string; attempts: string }>(
    `WITH latest AS (SELECT DISTINCT ON (run_id, lead_id) run_id, status, outcome, attempt FROM outbound_call_jobs
                      WHERE run_id = ANY($1) ORDER BY run_id, lead_id, attempt DESC)
     SELECT run_id, status, outcome, count(*) AS n, sum(attempt) AS attempts FROM latest GROUP BY run_id, status, outcome`,
    [runIds],
  );
  const tallies = new Map<string, JobTallies>();
  for (const row of r.rows) {
    let t = tallies.get(row.run_id);
    if (!t) tallies.set(row.run_id, (t = noTallies()));
    t.byStatus.set(row.status, (t.byStatus.get(row.status) ?? 0) + Number(row.n));
    if (row.outcome) t.byOutcome.set(row.outcome, (t.byOutcome.get(row.outcome) ?? 0) + Number(row.n));
    t.attempts += Number(row.attempts);
  }
  return tallies;
}

/** A lead of a run as its latest attempt stands. */
export interface LeadJobRow {
  id: string;
  lead_id: string;
  position: number;
  attempt: number;
  status: JobStatus;
  outcome: CallStatus | null;
  error_code: number | null;
  last_error: string | null;
  not_before: Date | null;
  phone: string;
  name: string | null;
  variables: LeadVariables | null;
}

/**
 * A page of a run's leads in lead order (position), after `afterPosition`, each as its latest
 * attempt; the filters (null = any) apply to that attempt's status and outcome. The order is the
 * index's (outbound_call_jobs_run_position_idx, attempt DESC NULLS LAST), so a page reads its rows
 * and stops, never sorting the rest of the run.
 */
export async function listLeadJobRows(
  db: Executor,
  runId: string,
  page: { statuses: readonly JobStatus[] | null; outcomes: readonly CallStatus[] | null; afterPosition: number | null; limit: number },
): Promise<LeadJobRow[]> {
  const r = await db.query<LeadJobRow>(
    `SELECT j.id, j.lead_id, j.position, j.attempt, j.status, j.outcome, j.error_code, j.last_error, j.not_before, l.phone, l.name, l.variables
       FROM (SELECT DISTINCT ON (position) * FROM outbound_call_jobs
              WHERE run_id = $1 AND ($4::int IS NULL OR position > $4) ORDER BY position, attempt DESC NULLS LAST) j
       JOIN leads l ON l.id = j.lead_id
      WHERE ($2::text[] IS NULL OR j.status = ANY($2)) AND ($3::text[] IS NULL OR j.outcome = ANY($3))
      ORDER BY j.position LIMIT $5`,
    [runId, page.statuses, page.outcomes, page.afterPosition, page.limit],
  );
  return r.rows;
}

/** Every variable key a lead of the run has, in alphabetical order. */
export async function runVariableKeys(db: Executor, runId: string): Promise<string[]> {
  const r = await db.query<{ key: string }>(
    `SELECT DISTINCT jsonb_object_keys(l.variables) AS key FROM outbound_call_jobs j JOIN leads l ON l.id = j.lead_id
      WHERE j.run_id = $1 AND j.attempt = 1 AND l.variables IS NOT NULL ORDER BY key`,
    [runId],
  );
  return r.rows.map((row) => row.key);
}
