import type { SlotWaits } from '../calls/slot-waits';
import type { DomainDeps } from '../domain/deps';
import { createDialActivities } from './dial';
import { createReconcileActivities } from './reconcile';
import { createRunLifecycleActivities } from './run-lifecycle';

export type ActivityDeps = DomainDeps & {
  /** A worker's freed-slot waits: its dial passes keep dialing as slots free (DIAL_SESSION_SECONDS). */
  slotWaits?: SlotWaits;
};

/** Every activity of BulkCallRun and the reconciliation sweep, built from its dependencies so tests can hand in real servers. */
export function createActivities(deps: ActivityDeps) {
  return {
    ...createRunLifecycleActivities(deps),
    ...createDialActivities(deps),
    ...createReconcileActivities(deps),
  };
}
