import type { RetryPolicy, RetryableOutcome } from '../db/settings';
import { isMachineAnswer, type AnsweredBy, type CallStatus } from '../db/statuses';

/**
 * Retries by outcome: which rule of a run's policy an ended attempt falls under, and when the next
 * attempt is due. A machine (or fax) is an answered call whose detection said so; the other
 * outcomes are Twilio's terminal statuses of a call nobody answered.
 */
export function retryOutcomeOf(status: CallStatus, answeredBy: AnsweredBy | null): RetryableOutcome | null {
  if (status === 'completed') return isMachineAnswer(answeredBy) ? 'machine' : null;
  if (status === 'busy' || status === 'no-answer' || status === 'failed' || status === 'canceled') return status;
  return null;
}

/** Seconds until the next attempt after attempt number `attempt` ended this way, or null: no retry. */
export function retryDelaySeconds(policy: RetryPolicy | null, outcome: RetryableOutcome | null, attempt: number): number | null {
  const rule = outcome ? policy?.[outcome] : undefined;
  if (!rule || attempt >= rule.maxAttempts) return null;
  return Math.round(rule.delaySeconds * rule.backoff ** (attempt - 1));
}
