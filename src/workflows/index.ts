export { bulkCallRun } from './bulk-call-run';
