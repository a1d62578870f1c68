import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger, NativeConnection, Runtime, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { WORKFLOWS_PATH } from '../../src/temporal/create-worker';

export function testTemporalAddress(): string {
  const address = process.env.OUTDIAL_TEST_TEMPORAL_ADDRESS;
  if (!address) throw new Error('OUTDIAL_TEST_TEMPORAL_ADDRESS is not set: run the tests through jest (test/global-setup.ts)');
  return address;
}

let runtimeInstalled = false;
let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;

/** Bundling the workflows takes seconds: once per test process, shared by every worker it creates. */
export function workflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  if (!runtimeInstalled) {
    Runtime.install({ logger: new DefaultLogger('WARN') });
    runtimeInstalled = true;
  }
  bundle ??= bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: new DefaultLogger('WARN') });
  return bundle;
}

export async function connectTestTemporal(): Promise<{ client: Client; nativeConnection: NativeConnection; close(): Promise<void> }> {
  const address = testTemporalAddress();
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
