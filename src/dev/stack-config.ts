import path from 'node:path';
import { z } from 'zod';
import { parseEnvVariable } from '../config';

/** The local stack's own settings (`npm start`); the services' variables are in src/config.ts. */
export interface StackConfig {
  dataDir: string;
  apiPort: number;
  postgresPort: number;
  temporalPort: number;
  temporalUiPort: number;
  carrierPort: number;
  /** Set when the user points Outdial at services of their own: the stack then starts none of those. */
  external: { databaseUrl?: string; temporalAddress?: string; twilio: boolean };
}

const port = z.coerce.number().int().min(1).max(65535);

function portVar(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  return parseEnvVariable(name, { schema: port.default(fallback), hint: 'set it to a port number, 1-65535' }, env) as number;
}

export function loadStackConfig(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): StackConfig {
  const apiPort = portVar(env, 'PORT', 3000);
  const temporalPort = portVar(env, 'TEMPORAL_PORT', 7233);
  return {
    dataDir: path.resolve(cwd, env.OUTDIAL_DATA_DIR || '.data'),
    apiPort,
    postgresPort: portVar(env, 'POSTGRES_PORT', 5433),
    temporalPort,
    temporalUiPort: portVar(env, 'TEMPORAL_UI_PORT', temporalPort + 1000),
    carrierPort: portVar(env, 'SANDBOX_CARRIER_PORT', 3100),
    external: {
      ...(env.DATABASE_URL ? { databaseUrl: env.DATABASE_URL } : {}),
      ...(env.TEMPORAL_ADDRESS ? { temporalAddress: env.TEMPORAL_ADDRESS } : {}),
      twilio: Boolean(env.TWILIO_ACCOUNT_SID || env.TWILIO_API_BASE_URL),
    },
  };
}
