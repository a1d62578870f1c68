import { z } from 'zod';
import { parseEnvVariable } from '../config';
import { DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN } from './sids';
import { isE164 } from './validation';

const variables = {
  SANDBOX_CARRIER_PORT: {
    schema: z.coerce.number().int().min(0).max(65535).default(3100),
    hint: 'set it to a TCP port, 0-65535 (0 = any free port)',
  },
  SANDBOX_CARRIER_HOST: {
    schema: z.string().regex(/^[A-Za-z0-9.:-]+$/, 'must be a host name or IP address').default('127.0.0.1'),
    hint: 'set it to the address to listen on (127.0.0.1, or 0.0.0.0 in a container)',
  },
  SANDBOX_ACCOUNT_SID: {
    schema: z.string().regex(/^AC[0-9a-fA-F]{32}$/, 'must be "AC" followed by 32 hex digits').default(DEFAULT_ACCOUNT_SID),
    hint: 'set it to an account SID such as AC followed by 32 hex digits, or unset it',
  },
  SANDBOX_AUTH_TOKEN: {
    schema: z.string().min(8, 'must be at least 8 characters').default(DEFAULT_AUTH_TOKEN),
    hint: 'set it to the token clients will authenticate with, or unset it',
  },
  SANDBOX_CALLS_PER_SECOND: {
    schema: z.coerce.number().positive('must be greater than 0').max(100_000).default(100),
    hint: 'set it to the per-account dial rate, a number > 0',
  },
  SANDBOX_OWNED_NUMBERS: {
    schema: z
      .string()
      .transform((v) => v.split(',').map((n) => n.trim()).filter((n) => n.length > 0))
      .refine((list) => list.every(isE164), 'must be E.164 numbers such as +14155550100, comma-separated')
      .optional(),
    hint: 'set it to comma-separated E.164 numbers, or unset it to accept any From',
  },
} as const;

type Vars = typeof variables;
export type SandboxEnv = { [K in keyof Vars]: z.output<Vars[K]['schema']> };

function parse<K extends keyof Vars>(name: K, env: NodeJS.ProcessEnv): SandboxEnv[K] {
  return parseEnvVariable(name, variables[name], env) as SandboxEnv[K];
}

export function loadSandboxEnv(env: NodeJS.ProcessEnv = process.env): SandboxEnv {
  return {
    SANDBOX_CARRIER_PORT: parse('SANDBOX_CARRIER_PORT', env),
    SANDBOX_CARRIER_HOST: parse('SANDBOX_CARRIER_HOST', env),
    SANDBOX_ACCOUNT_SID: parse('SANDBOX_ACCOUNT_SID', env),
    SANDBOX_AUTH_TOKEN: parse('SANDBOX_AUTH_TOKEN', env),
    SANDBOX_CALLS_PER_SECOND: parse('SANDBOX_CALLS_PER_SECOND', env),
    SANDBOX_OWNED_NUMBERS: parse('SANDBOX_OWNED_NUMBERS', env),
  };
}
