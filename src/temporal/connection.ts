import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import type { Config } from '../config';

type TemporalConfig = Config['temporal'];

function connectionOptions(config: TemporalConfig) {
  return {
    address: config.address,
    ...(config.tls ? { tls: true } : {}),
    ...(config.apiKey ? { apiKey: config.apiKey } : {}),
  };
}

/** A client for starting, signalling, querying and updating runs (API and activities). */
export async function connectTemporalClient(config: TemporalConfig): Promise<Client> {
  const connection = await Connection.connect(connectionOptions(config));
  return new Client({ connection, namespace: config.namespace });
}

/** The native connection a Worker polls with. */
export function connectWorkerConnection(config: TemporalConfig): Promise<NativeConnection> {
  return NativeConnection.connect(connectionOptions(config));
}
