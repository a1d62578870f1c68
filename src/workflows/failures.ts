import { ApplicationFailure } from '@temporalio/common';

/**
 * Every Temporal failure type Outdial raises, named once: activities throw them, workflows list the
 * ones not worth retrying, and the API maps them to answers.
 */
export const FailureType = {
  /** No public base URL can be built: no status callback could reach us, so nothing may be dialed. */
  NoPublicHost: 'NoPublicHost',
  RunNotFound: 'RunNotFound',
  /** The run ended in Postgres (failed, completed, canceled): its workflow dials no more. */
  RunNotLive: 'RunNotLive',
  /** The run's state machine does not allow the change from where the run is. */
  InvalidTransition: 'InvalidTransition',
} as const;
export type FailureType = (typeof FailureType)[keyof typeof FailureType];

export function nonRetryable(type: FailureType, message: string): ApplicationFailure {
  return ApplicationFailure.nonRetryable(message, type);
}

/** Failure types an activity retry cannot fix. */
export const NON_RETRYABLE_FAILURES: FailureType[] = Object.values(FailureType);
