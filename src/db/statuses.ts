/**
 * Status vocabularies shared by the schema's CHECK constraints, the slot queries and the API.
 * One list per idea, so a status cannot be counted in one place and forgotten in another.
 */

export const RUN_STATUSES = ['pending', 'running', 'paused', 'canceling', 'canceled', 'completed', 'failed'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];
/** Runs whose workflow is alive and wants wake-ups when a slot of their business frees. */
export const LIVE_RUN_STATUSES = ['pending', 'running', 'paused', 'canceling'] as const satisfies readonly RunStatus[];
/** A run in one of these has ended for good: nothing about it changes any more. */
export const FINAL_RUN_STATUSES = ['completed', 'canceled', 'failed'] as const satisfies readonly RunStatus[];

/** A run in one of these takes more leads: it has not begun to end (src/domain/runs/add-leads.ts). */
export const LEAD_ACCEPTING_RUN_STATUSES = ['pending', 'running', 'paused'] as const satisfies readonly RunStatus[];

export function isFinalRunStatus(status: string): boolean {
  return (FINAL_RUN_STATUSES as readonly string[]).includes(status);
}

/**
 * `skipped_dnc`: the lead's number was on a do-not-call list when its turn came; it was never dialed.
 * `expired`: the run's stopAt passed before the lead was dialed.
 */
export const JOB_STATUSES = ['queued', 'dialing', 'completed', 'failed', 'canceled', 'skipped_dnc', 'expired'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];
/** A job in one of these is not done: its run is not complete while it has one. */
export const OPEN_JOB_STATUSES = ['queued', 'dialing'] as const satisfies readonly JobStatus[];

/** Twilio's call states (REST and callbacks), plus `reserved`: our slot is taken, the carrier not yet asked. */
export const CALL_STATUSES = [
  'reserved',
  'queued',
  'initiated',
  'ringing',
  'in-progress',
  'completed',
  'busy',
  'no-answer',
  'failed',
  'canceled',
] as const;
export type CallStatus = (typeof CALL_STATUSES)[number];

/**
 * A call holds a slot from the moment it is reserved until the carrier reports a terminal state.
 * `queued` is Twilio's first status for every new call: the reviewed design forgot it and measured
 * 4 live calls on a limit of 3 with a single run.
 */
export const ACTIVE_CALL_STATUSES = ['reserved', 'queued', 'initiated', 'ringing', 'in-progress'] as const satisfies readonly CallStatus[];
export const TERMINAL_CALL_STATUSES = ['completed', 'busy', 'no-answer', 'failed', 'canceled'] as const satisfies readonly CallStatus[];
export type TerminalCallStatus = (typeof TERMINAL_CALL_STATUSES)[number];

export function isTerminalCallStatus(status: string): status is TerminalCallStatus {
  return (TERMINAL_CALL_STATUSES as readonly string[]).includes(status);
}

/** Order of progress: a status update is applied only if it moves a call forward. Terminal is final. */
export function callStatusRank(status: CallStatus): number {
  switch (status) {
    case 'reserved':
      return 0;
    case 'queued':
      return 1;
    case 'initiated':
      return 2;
    case 'ringing':
      return 3;
    case 'in-progress':
      return 4;
    default:
      return 5;
  }
}

/** The statuses a call moves forward from to `status` (by `callStatusRank`): what SQL compares with, so the order has one definition. */
export function statusesBehind(status: CallStatus): CallStatus[] {
  return CALL_STATUSES.filter((s) => callStatusRank(s) < callStatusRank(status));
}

/** Twilio's AnsweredBy values (answering-machine detection). */
export const ANSWERED_BY_VALUES = ['human', 'machine_start', 'machine_end_beep', 'machine_end_silence', 'machine_end_other', 'fax', 'unknown'] as const;
export type AnsweredBy = (typeof ANSWERED_BY_VALUES)[number];
/** How a run counts them: every machine_* is a machine. */
export const ANSWERED_BY_CLASSES = ['human', 'machine', 'fax', 'unknown'] as const;
export type AnsweredByClass = (typeof ANSWERED_BY_CLASSES)[number];

export function answeredByClass(value: AnsweredBy): AnsweredByClass {
  return value.startsWith('machine_') ? 'machine' : (value as AnsweredByClass);
}

/** A machine or a fax answered: what "hang up on machine" and the `machine` retry rule act on. */
export function isMachineAnswer(value: AnsweredBy | null): boolean {
  return value !== null && (answeredByClass(value) === 'machine' || answeredByClass(value) === 'fax');
}

/** What a call does when detection says a machine (or fax) answered: end it, or leave it to the voice app. */
export const ON_MACHINE_POLICIES = ['hangup', 'continue'] as const;
export type OnMachinePolicy = (typeof ON_MACHINE_POLICIES)[number];

export const CALL_DIRECTIONS = ['bulk', 'direct'] as const;
export type CallDirection = (typeof CALL_DIRECTIONS)[number];

/** E.164 as the database enforces it; the API validates numbers more strictly with libphonenumber. */
export const E164_PATTERN = '^\\+[1-9][0-9]{6,14}$';

export function sqlList(values: readonly string[]): string {
  return values.map((v) => `'${v.replace(/'/g, "''")}'`).join(', ');
}

/**
 * "The call holds a slot", as SQL: the predicate of the partial index of active calls
 * (calls_active_by_business_idx) and of every query that counts a business's active calls. Written
 * out, not `= ANY($n)`: a prepared statement's generic plan can use a partial index only when the
 * query states its predicate; with a parameter Postgres either plans each call again (2 ms per claim)
 * or scans every call of the business.
 */
export function activeCallSql(column = 'status'): string {
  return `${column} IN (${sqlList(ACTIVE_CALL_STATUSES)})`;
}
