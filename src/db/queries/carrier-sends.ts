import type { PoolClient } from 'pg';

/**
 * Queries of `carrier_sends`, the per-account pacing log. A window of PACING_WINDOW_MS (one second
 * plus a guard for the few milliseconds between a claim's commit and its create reaching the
 * carrier) holds at most `callsPerSecond` sends, so the carrier never receives more than that in any
 * one second.
 */
export const PACING_WINDOW_MS = 1_100;

/**
 * How many creates the account may still send in its current window, under a per-account
 * transaction lock (every pacer of the account, on any process, waits for it until it commits), and
 * when the next place frees if none is left. The caller records what it sends with `recordSends`.
 */
export async function sendPlacesLeft(client: PoolClient, account: string, callsPerSecond: number): Promise<{ left: number; nextFreeAt: Date | null }> {
  await client.query("SELECT pg_advisory_xact_lock(hashtext('outdial-carrier-pacing'), hashtext($1))", [account]);
  await client.query("DELETE FROM carrier_sends WHERE account = $1 AND sent_at < clock_timestamp() - interval '10 seconds'", [account]);
  const r = await client.query<{ n: string; oldest: Date | null }>(
    'SELECT count(*) AS n, min(sent_at) AS oldest FROM carrier_sends WHERE account = $1 AND sent_at > clock_timestamp() - make_interval(secs => $2)',
    [account, PACING_WINDOW_MS / 1000],
  );
  const left = Math.max(0, callsPerSecond - Number(r.rows[0]?.n ?? 0));
  const oldest = r.rows[0]?.oldest;
  return { left, nextFreeAt: left > 0 ? null : new Date((oldest?.getTime() ?? Date.now()) + PACING_WINDOW_MS) };
}

export async function recordSends(client: PoolClient, account: string, count: number): Promise<void> {
  if (count <= 0) return;
  await client.query('INSERT INTO carrier_sends (account, sent_at) SELECT $1, clock_timestamp() FROM generate_series(1, $2)', [account, count]);
}
