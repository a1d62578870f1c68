import type { CallRow } from '../../db/queries/calls';

export interface CallView {
  id: string;
  businessId: string;
  direction: CallRow['direction'];
  status: CallRow['status'];
  to: string;
  from: string;
  twilioCallSid: string | null;
  runId: string | null;
  jobId: string | null;
  errorCode: number | null;
  lastError: string | null;
  durationSeconds: number | null;
  /** Twilio's answering-machine verdict, once known; `onMachine` is the call's policy when detection was on. */
  answeredBy: CallRow['answered_by'];
  onMachine: CallRow['on_machine'];
  createdAt: string;
  dialedAt: string | null;
  answeredAt: string | null;
  endedAt: string | null;
}

export function callView(row: CallRow): CallView {
  return {
    id: row.id,
    businessId: row.business_id,
    direction: row.direction,
    status: row.status,
    to: row.to_number,
    from: row.from_number,
    twilioCallSid: row.twilio_call_sid,
    runId: row.run_id,
    jobId: row.job_id,
    errorCode: row.error_code,
    lastError: row.last_error,
    durationSeconds: row.duration_seconds,
    answeredBy: row.answered_by,
    onMachine: row.on_machine,
    createdAt: row.created_at.toISOString(),
    dialedAt: row.dialed_at?.toISOString() ?? null,
    answeredAt: row.answered_at?.toISOString() ?? null,
    endedAt: row.ended_at?.toISOString() ?? null,
  };
}
