export { bulkCallRun } from './bulk-call-run';
export { reconcile } from './reconcile';
