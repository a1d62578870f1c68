export { bulkCallRun } from './bulk-call-run';
export { reconcileCalls } from './reconcile-calls';
