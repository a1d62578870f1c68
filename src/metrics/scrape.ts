import { createHash, timingSafeEqual } from 'node:crypto';
import { Registry } from 'prom-client';

const sha256 = (value: string) => createHash('sha256').update(value).digest();

/**
 * Why a scrape may not read the metrics, or null when it may: with METRICS_TOKEN set, a scrape must
 * send it as a bearer token (Prometheus: `authorization: { credentials: … }`); without it, anyone may.
 */
export function scrapeRefusal(authorization: string | undefined, token: string | undefined): string | null {
  if (!token) return null;
  const match = authorization ? /^Bearer[ \t]+(\S{1,512})[ \t]*$/i.exec(authorization) : null;
  if (!match) return 'send the metrics token: Authorization: Bearer <METRICS_TOKEN>';
  // Compared as digests: equal lengths for timingSafeEqual, and no timing hint of the token's length.
  return timingSafeEqual(sha256(match[1]!), sha256(token)) ? null : 'the metrics token does not match';
}

/** The registries' metrics in Prometheus text format (their collectors run now, Postgres reads included). */
export async function renderMetrics(registries: Registry[]): Promise<{ contentType: string; body: string }> {
  const merged = Registry.merge(registries);
  return { contentType: merged.contentType, body: await merged.metrics() };
}
