import { inTransaction, type Database } from '../db/client';
import { callStatusRank, isTerminalCallStatus, type CallStatus, type JobStatus } from '../db/statuses';

export interface CallStatusUpdate {
  /** Outdial's call ID (from the callback URL); preferred, because it exists before the SID is known. */
  callId?: string;
  callSid?: string;
  status: CallStatus;
  sequenceNumber?: number | null;
  durationSeconds?: number | null;
  errorCode?: number | null;
  errorMessage?: string | null;
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
    };

function jobStatusFor(outcome: CallStatus): JobStatus {
  if (outcome === 'failed') return 'failed';
  if (outcome === 'canceled') return 'canceled';
  return 'completed';
}

/**
 * Applies a carrier status to a call and its job in one transaction. Callbacks arrive duplicated and
 * out of order, so a status is applied only if it moves the call forward; terminal states are final.
 */
export function applyCallStatus(database: Database, update: CallStatusUpdate): Promise<AppliedStatus> {
  return inTransaction(database, async (client): Promise<AppliedStatus> => {
    const found = update.callId
      ? await client.query('SELECT id, business_id, run_id, job_id, status, twilio_call_sid FROM calls WHERE id = $1 FOR UPDATE', [update.callId])
      : await client.query('SELECT id, business_id, run_id, job_id, status, twilio_call_sid FROM calls WHERE twilio_call_sid = $1 FOR UPDATE', [
          update.callSid,
        ]);
    const call = found.rows[0] as
      | { id: string; business_id: string; run_id: string | null; job_id: string | null; status: CallStatus; twilio_call_sid: string | null }
      | undefined;
    if (!call) return { result: 'not-found' };
    if (update.callSid && call.twilio_call_sid && call.twilio_call_sid !== update.callSid) return { result: 'sid-mismatch', callId: call.id };
    if (callStatusRank(update.status) <= callStatusRank(call.status)) {
      // A late or repeated event. Still learn the SID if a callback beat the create response.
      if (update.callSid && !call.twilio_call_sid) {
        await client.query('UPDATE calls SET twilio_call_sid = $2, updated_at = now() WHERE id = $1', [call.id, update.callSid]);
      }
      return { result: 'unchanged', callId: call.id, status: call.status };
    }
    const terminal = isTerminalCallStatus(update.status);
    await client.query(
      `UPDATE calls SET
          status = $2,
          twilio_call_sid = COALESCE(twilio_call_sid, $3),
          last_sequence_number = GREATEST(last_sequence_number, $4),
          duration_seconds = COALESCE($5, duration_seconds),
          error_code = COALESCE($6, error_code),
          last_error = COALESCE($7, last_error),
          answered_at = CASE WHEN $2 = 'in-progress' THEN COALESCE(answered_at, now()) ELSE answered_at END,
          ended_at = CASE WHEN $8 THEN now() ELSE ended_at END,
          updated_at = now()
        WHERE id = $1`,
      [
        call.id,
        update.status,
        update.callSid ?? null,
        update.sequenceNumber ?? null,
        update.durationSeconds ?? null,
        update.errorCode ?? null,
        update.errorMessage ?? null,
        terminal,
      ],
    );
    if (terminal && call.job_id) {
      await client.query(
        `UPDATE outbound_call_jobs SET status = $2, outcome = $3, twilio_call_sid = COALESCE(twilio_call_sid, $4),
                error_code = COALESCE($5, error_code), last_error = COALESCE($6, last_error), finished_at = now(), updated_at = now()
          WHERE id = $1 AND status = 'dialing'`,
        [call.job_id, jobStatusFor(update.status), update.status, update.callSid ?? call.twilio_call_sid, update.errorCode ?? null, update.errorMessage ?? null],
      );
    }
    return {
      result: 'applied',
      callId: call.id,
      businessId: call.business_id,
      runId: call.run_id,
      jobId: call.job_id,
      previous: call.status,
      status: update.status,
      freedSlot: terminal,
    };
  });
}
