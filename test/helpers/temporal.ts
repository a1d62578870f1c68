import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { bundleOutdialWorkflows } from '../../src/temporal/workflow-bundle';

export function testTemporalAddress(): string {
  const address = process.env.OUTDIAL_TEST_TEMPORAL_ADDRESS;
  if (!address) throw new Error('OUTDIAL_TEST_TEMPORAL_ADDRESS is not set: run the tests through jest (test/global-setup.ts)');
  return address;
}

let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;

/** Quiet SDK logs in tests; the Runtime is a process singleton, installed before any connection. */
function installRuntime() {
  try {
    Runtime.install({ logger: new DefaultLogger('ERROR') });
  } catch {
    // Already installed by an earlier test file in this process.
  }
}

/** Bundling the workflows takes seconds: once per test process, shared by every worker it creates. */
export function workflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  installRuntime();
  bundle ??= bundleOutdialWorkflows();
  return bundle;
}

export async function connectTestTemporal(
  address = testTemporalAddress(),
): Promise<{ client: Client; nativeConnection: NativeConnection; close(): Promise<void> }> {
  installRuntime();
  const connection = await Connection.connect({ address });
  const nativeConnection = await NativeConnection.connect({ address });
  return {
    client: new Client({ connection, namespace: 'default' }),
    nativeConnection,
    async close() {
      await connection.close();
      await nativeConnection.close();
    },
  };
}
