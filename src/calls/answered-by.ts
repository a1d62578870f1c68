import type { Database } from '../db/client';
import { recordAnsweredBy } from '../db/queries/calls';
import { isMachineAnswer, isTerminalCallStatus, type AnsweredBy } from '../db/statuses';
import type { Logger } from '../logger';
import { timeCarrierRequest } from '../metrics/registry';
import type { TelephonyClient } from '../telephony/client';

/**
 * What became of an answering-machine verdict:
 * - `recorded`: kept on the call; `hangUp` says whether the call's policy ended it at the carrier
 *   (`hung-up`), or could not (`failed`: the call may have ended already), or was not asked to (`no`);
 * - `unchanged`: the verdict was already known (Twilio repeats it on later callbacks), or no call
 *   has this ID or SID (the callback route has already verified the signature; nothing to do).
 */
export type AppliedAnsweredBy =
  | { result: 'recorded'; callId: string; answeredBy: AnsweredBy; hangUp: 'hung-up' | 'failed' | 'no' }
  | { result: 'unchanged' };

export interface AnsweredByDeps {
  database: Database;
  telephony: TelephonyClient;
  logger: Logger;
}

/**
 * Keeps the verdict on the call, once; a machine or fax on a call whose policy is `hangup` is ended
 * at once with the Calls API (Status=completed), whether the verdict came from async AMD's callback
 * or from a status callback of sync AMD. Its slot frees when the carrier reports the end.
 */
export async function applyAnsweredBy(deps: AnsweredByDeps, by: { callId?: string; callSid?: string }, answeredBy: AnsweredBy): Promise<AppliedAnsweredBy> {
  const call = await recordAnsweredBy(deps.database.pool, by, answeredBy);
  if (!call) return { result: 'unchanged' };
  const sid = call.twilio_call_sid ?? by.callSid;
  if (!isMachineAnswer(answeredBy) || call.on_machine !== 'hangup' || isTerminalCallStatus(call.status) || !sid) {
    return { result: 'recorded', callId: call.id, answeredBy, hangUp: 'no' };
  }
  try {
    await timeCarrierRequest('update', () => deps.telephony.calls(sid).update({ status: 'completed' }));
    deps.logger.info({ callId: call.id, callSid: sid, answeredBy }, 'machine answered: call hung up');
    return { result: 'recorded', callId: call.id, answeredBy, hangUp: 'hung-up' };
  } catch (err) {
    deps.logger.warn({ callId: call.id, callSid: sid, answeredBy, err: String(err) }, 'machine answered, but the hang-up was refused');
    return { result: 'recorded', callId: call.id, answeredBy, hangUp: 'failed' };
  }
}
