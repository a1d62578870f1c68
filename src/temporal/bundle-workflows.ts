/**
 * Bundles the workflows into one file. The worker runs it in a child process at start (so webpack's
 * memory is not kept by the worker); run directly, `npm run bundle:workflows -- <file>` (or
 * `node dist/src/temporal/bundle-workflows.js <file>`) prebuilds the file WORKFLOW_BUNDLE_PATH names.
 */
import path from 'node:path';
import { writeWorkflowBundle } from './workflow-bundle';

const out = process.argv[2];
if (!out) {
  process.stderr.write('usage: npm run bundle:workflows -- <out.js>\n');
  process.exit(2);
}
// A worker that dies meanwhile takes its bundler with it.
process.once('disconnect', () => process.exit(1));
writeWorkflowBundle(path.resolve(out)).then(
  () => process.exit(0),
  (err: unknown) => {
    const first = (err instanceof Error ? err.message : String(err)).split('\n')[0];
    process.stderr.write(`outdial bundle:workflows: failed: ${first}\n`);
    process.exit(1);
  },
);
