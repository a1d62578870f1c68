import { parsePublicHost, PLATFORM_HOST_VARIABLES, type Config } from './config';

export const NO_PUBLIC_HOST = 'No public host configured';

export type PublicHostResolution =
  | { ok: true; baseUrl: string; source: string; warning?: string }
  | { ok: false; error: typeof NO_PUBLIC_HOST };

/**
 * Where Twilio must send status callbacks, and the URL their signatures are computed over.
 * Order: PUBLIC_HOST, then a platform-provided domain, then (development only) the local API.
 * The API verifies signatures against the same value, so both sides always agree.
 */
export function resolvePublicHost(config: Pick<Config, 'publicHost' | 'env' | 'port'>): PublicHostResolution {
  if (config.publicHost.configured) {
    const baseUrl = parsePublicHost(config.publicHost.configured);
    if (baseUrl) return { ok: true, baseUrl, source: 'PUBLIC_HOST' };
  }
  for (const name of PLATFORM_HOST_VARIABLES) {
    const value = config.publicHost.platform[name];
    const baseUrl = value ? parsePublicHost(value) : null;
    if (baseUrl) return { ok: true, baseUrl, source: name };
  }
  if (config.env === 'development') {
    return {
      ok: true,
      baseUrl: `http://localhost:${config.port}`,
      source: 'development default',
      warning: `PUBLIC_HOST is not set; using http://localhost:${config.port}, which only a carrier on this machine can reach`,
    };
  }
  return { ok: false, error: NO_PUBLIC_HOST };
}
