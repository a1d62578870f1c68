import type { PoolClient } from 'pg';
import { inTransaction, type Database } from '../db/client';
import { changeCallStatus, learnCallSid, lockCall, setCallStatus, type CallRow } from '../db/queries/calls';
import { finishJob, jobAttempt, queueRetry } from '../db/queries/jobs';
import { retryDelaySeconds, retryOutcomeOf } from './retries';
import { callStatusRank, isTerminalCallStatus, statusesBehind, type CallStatus, type JobStatus } from '../db/statuses';

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
 * Applies a carrier status to a call and its job in one transaction. Callbacks arrive duplicated and
 * out of order, so a status is applied only if it moves the call forward; terminal states are final.
 * A non-terminal status touches the call alone: one statement does it (a round trip, not five).
 */
export function applyCallStatus(
  database: Database,
  update: CallStatusUpdate,
  /** Written in the same transaction when the status applies (an audit record). */
  alsoWhenApplied?: (client: PoolClient, call: CallRow) => Promise<void>,
): Promise<AppliedStatus> {
  if (!alsoWhenApplied && !isTerminalCallStatus(update.status)) return applyInOneStatement(database, update);
  return inTransaction(database, async (client): Promise<AppliedStatus> => {
    const call = await lockCall(client, update);
    if (!call) return { result: 'not-found' };
    if (update.callSid && call.twilio_call_sid && call.twilio_call_sid !== update.callSid) return { result: 'sid-mismatch', callId: call.id };
    if (callStatusRank(update.status) <= callStatusRank(call.status)) {
      // A late or repeated event. Still learn the SID if a callback beat the create response.
      if (update.callSid && !call.twilio_call_sid) await learnCallSid(client, call.id, update.callSid);
      return { result: 'unchanged', callId: call.id, status: call.status };
    }
    const terminal = isTerminalCallStatus(update.status);
    await setCallStatus(client, call.id, {
      status: update.status,
      callSid: update.callSid ?? null,
      sequenceNumber: update.sequenceNumber ?? null,
      durationSeconds: update.durationSeconds ?? null,
      errorCode: update.errorCode ?? null,
      errorMessage: update.errorMessage ?? null,
      terminal,
    });
    let retryQueued = false;
    if (terminal && call.job_id) {
      await finishJob(client, call.job_id, {
        status: jobStatusFor(update.status),
        outcome: update.status,
        callSid: update.callSid ?? call.twilio_call_sid,
        errorCode: update.errorCode ?? null,
        errorMessage: update.errorMessage ?? null,
      });
      // The lead's next attempt, in the same transaction: an attempt never ends without its retry.
      const policy = update.permanent ? null : call.run_retry_policy;
      const attempt = policy ? await jobAttempt(client, call.job_id) : null;
      const delay = attempt === null ? null : retryDelaySeconds(policy, retryOutcomeOf(update.status, call.answered_by), attempt);
      if (delay !== null) retryQueued = await queueRetry(client, { jobId: call.job_id, delaySeconds: delay });
    }
    if (alsoWhenApplied) await alsoWhenApplied(client, call);
    return {
      result: 'applied',
      callId: call.id,
      businessId: call.business_id,
      runId: call.run_id,
      jobId: call.job_id,
      previous: call.status,
      status: update.status,
      freedSlot: terminal,
      retryQueued,
    };
  });
}

async function applyInOneStatement(database: Database, update: CallStatusUpdate): Promise<AppliedStatus> {
  const call = await changeCallStatus(database.pool, update, {
    status: update.status,
    behind: statusesBehind(update.status),
    callSid: update.callSid ?? null,
    sequenceNumber: update.sequenceNumber ?? null,
    durationSeconds: update.durationSeconds ?? null,
    errorCode: update.errorCode ?? null,
    errorMessage: update.errorMessage ?? null,
  });
  if (!call) return { result: 'not-found' };
  if (call.result === 'sid-mismatch') return { result: 'sid-mismatch', callId: call.id };
  if (call.result === 'unchanged') return { result: 'unchanged', callId: call.id, status: call.status };
  return {
    result: 'applied',
    callId: call.id,
    businessId: call.business_id,
    runId: call.run_id,
    jobId: call.job_id,
    previous: call.status,
    status: update.status,
    freedSlot: false,
    retryQueued: false,
  };
}
