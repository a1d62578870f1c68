import type { PoolClient } from 'pg';
import { inTransaction, type Database } from '../db/client';
import { changeCallStatus, type CallRow, type CallStatusChange, type ChangedCall } from '../db/queries/calls';
import { queueRetry } from '../db/queries/jobs';
import { retryDelaySeconds, retryOutcomeOf } from './retries';
import { isTerminalCallStatus, statusesBehind, type CallStatus, type JobStatus } from '../db/statuses';

export interface CallStatusUpdate {
  /** Outdial's call ID (from the callback URL); preferred, because it exists before the SID is known. */
  callId?: string;
  callSid?: string;
  status: CallStatus;
  sequenceNumber?: number | null;
  durationSeconds?: number | null;
  errorCode?: number | null;
  errorMessage?: string | null;
  /** The carrier refused the number itself at create (invalid, blocked): retrying cannot help. */
  permanent?: boolean;
  /**
   * A callback verified against this URL: applied only if it is the status callback URL the call was
   * given (or it has none); otherwise nothing is written and `SignedForAnotherUrl` is thrown.
   */
  signedFor?: string;
}

/** The callback's signature was checked against another URL than the call's: it must be checked against that one. */
export class SignedForAnotherUrl extends Error {
  constructor(readonly callId: string) {
    super(`call ${callId} was given another status callback URL`);
  }
}

export type AppliedStatus =
  | { result: 'not-found' }
  | { result: 'sid-mismatch'; callId: string }
  | { result: 'unchanged'; callId: string; status: CallStatus }
  | {
      result: 'applied';
      callId: string;
      businessId: string;
      runId: string | null;
      jobId: string | null;
      previous: CallStatus;
      status: CallStatus;
      /** The call left the active set: its slot is free for any run or direct call of the business. */
      freedSlot: boolean;
      /** Its run's policy queued another attempt of the lead. */
      retryQueued: boolean;
    };

function jobStatusFor(outcome: CallStatus): JobStatus {
  if (outcome === 'failed') return 'failed';
  if (outcome === 'canceled') return 'canceled';
  return 'completed';
}

/**
 * Applies a carrier status to a call and its job. Callbacks arrive duplicated and out of order, so a
 * status is applied only if it moves the call forward; terminal states are final. One statement
 * decides and writes (src/db/queries/calls.ts changeCallStatus), on its own: one round trip. Only
 * what must share a transaction with it takes one: the retry an ended attempt may queue (its run
 * has a retry policy), and an audit record.
 */
export async function applyCallStatus(
  database: Database,
  update: CallStatusUpdate,
  /** Written in the same transaction when the status applies (an audit record). */
  alsoWhenApplied?: (client: PoolClient, call: CallRow) => Promise<void>,
): Promise<AppliedStatus> {
  const terminal = isTerminalCallStatus(update.status);
  const change: CallStatusChange = {
    status: update.status,
    behind: statusesBehind(update.status),
    callSid: update.callSid ?? null,
    sequenceNumber: update.sequenceNumber ?? null,
    durationSeconds: update.durationSeconds ?? null,
    errorCode: update.errorCode ?? null,
    errorMessage: update.errorMessage ?? null,
    finishJobAs: terminal ? jobStatusFor(update.status) : null,
    unlessRetryable: false,
    signedFor: update.signedFor ?? null,
    flushLater: database.asyncStatusCommits,
  };
  if (!alsoWhenApplied) {
    // The permanent end of an attempt queues no retry, whatever its run's policy.
    const call = await changeCallStatus(database.pool, update, { ...change, unlessRetryable: terminal && !update.permanent });
    if (call?.result !== 'retryable') return appliedStatusOf(update, call, false);
  }
  return inTransaction(database, async (client): Promise<AppliedStatus> => {
    const call = await changeCallStatus(client, update, change);
    if (call?.result !== 'applied') return appliedStatusOf(update, call, false);
    let retryQueued = false;
    if (terminal && call.job_id) {
      // The lead's next attempt, in the same transaction: an attempt never ends without its retry.
      const policy = update.permanent ? null : call.run_retry_policy;
      const attempt = policy ? call.job_attempt : null;
      const delay = attempt === null ? null : retryDelaySeconds(policy, retryOutcomeOf(update.status, call.answered_by), attempt);
      if (delay !== null) retryQueued = await queueRetry(client, { jobId: call.job_id, delaySeconds: delay });
    }
    if (alsoWhenApplied) await alsoWhenApplied(client, call);
    return appliedStatusOf(update, call, retryQueued);
  });
}

function appliedStatusOf(update: CallStatusUpdate, call: ChangedCall | null, retryQueued: boolean): AppliedStatus {
  if (!call) return { result: 'not-found' };
  if (call.result === 'other-url') throw new SignedForAnotherUrl(call.id);
  if (call.result === 'sid-mismatch') return { result: 'sid-mismatch', callId: call.id };
  if (call.result === 'unchanged') return { result: 'unchanged', callId: call.id, status: call.status };
  if (call.result === 'retryable') throw new Error('a retryable status was left undone outside the transaction that applies it');
  return {
    result: 'applied',
    callId: call.id,
    businessId: call.business_id,
    runId: call.run_id,
    jobId: call.job_id,
    previous: call.status,
    status: update.status,
    freedSlot: isTerminalCallStatus(update.status),
    retryQueued,
  };
}
