import type { CallRecord } from './call-record';
import type { ResolvedScript } from './scripts';
import type { AnsweredBy, MachineDetection } from './types';
import type { CreateRequest } from './validation';

/** One answering-machine detection: what it reports and how long it took (sandbox ms). */
export interface Detection {
  answeredBy: AnsweredBy;
  durationMs: number;
}

/**
 * Twilio reports in the mode that was asked for: `Enable` stops at the start of a machine's
 * greeting, so it never knows how the message ended; `DetectMessageEnd` always waits for the end,
 * so a bare `machine_start` becomes `machine_end_other`.
 */
export function reportedAs(scripted: AnsweredBy, mode: MachineDetection): AnsweredBy {
  if (mode === 'Enable' && scripted.startsWith('machine_end_')) return 'machine_start';
  if (mode === 'DetectMessageEnd' && scripted === 'machine_start') return 'machine_end_other';
  return scripted;
}

/**
 * The detection a call will make, or null when the request did not ask for one. A scripted
 * detection slower than MachineDetectionTimeout (scaled like every request timeout) gives up at
 * the timeout with `unknown`, as Twilio does.
 */
export function plannedDetection(
  script: Pick<ResolvedScript, 'answeredBy' | 'amdMs'>,
  request: Pick<CreateRequest, 'machineDetection' | 'machineDetectionTimeoutSec'>,
  timeScale: number,
): Detection | null {
  if (!request.machineDetection) return null;
  const timeoutMs = request.machineDetectionTimeoutSec * 1000 * timeScale;
  if (script.amdMs > timeoutMs) return { answeredBy: 'unknown', durationMs: timeoutMs };
  return { answeredBy: reportedAs(script.answeredBy ?? 'human', request.machineDetection), durationMs: script.amdMs };
}

/** The AsyncAmdStatusCallback's parameters (Twilio's documented set). */
export function amdCallbackParams(call: CallRecord, detection: Detection): Record<string, string> {
  return {
    AccountSid: call.accountSid,
    CallSid: call.sid,
    AnsweredBy: detection.answeredBy,
    MachineDetectionDuration: String(Math.round(detection.durationMs)),
  };
}
