import type { PoolClient } from 'pg';
import { MAX_DIAL_DELAY_SECONDS } from './jobs';

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
 * when the next place frees if none is left. A place is in use from its claim until the window after
 * its dial: the dial stamps the time (`beginDial`), so a slow dial cannot make two windows overlap at
 * the carrier. A claimed call is dialed within MAX_DIAL_DELAY_SECONDS or never.
 */
export async function sendPlacesLeft(client: PoolClient, account: string, callsPerSecond: number): Promise<{ left: number; nextFreeAt: Date | null }> {
  await client.query("SELECT pg_advisory_xact_lock(hashtext('outdial-carrier-pacing'), hashtext($1))", [account]);
  await client.query("DELETE FROM carrier_sends WHERE account = $1 AND claimed_at < clock_timestamp() - interval '30 seconds'", [account]);
  const r = await client.query<{ n: string; oldest: Date | null }>(
    `SELECT count(*) AS n, min(sent_at) AS oldest FROM carrier_sends
      WHERE account = $1
        AND (sent_at > clock_timestamp() - make_interval(secs => $2)
             OR (sent_at IS NULL AND claimed_at > clock_timestamp() - make_interval(secs => $3)))`,
    [account, PACING_WINDOW_MS / 1000, MAX_DIAL_DELAY_SECONDS],
  );
  const left = Math.max(0, callsPerSecond - Number(r.rows[0]?.n ?? 0));
  if (left > 0) return { left, nextFreeAt: null };
  // Every place is in use: the oldest dialed one frees a window after its dial; with only claims
  // not yet dialed, look again shortly.
  const oldest = r.rows[0]?.oldest;
  return { left, nextFreeAt: new Date(oldest ? oldest.getTime() + PACING_WINDOW_MS : Date.now() + 200) };
}

/** Places taken by these claimed calls (stamped when each is dialed). */
export async function recordSends(client: PoolClient, account: string, callIds: string[]): Promise<void> {
  if (callIds.length === 0) return;
  await client.query('INSERT INTO carrier_sends (account, call_id) SELECT $1, id FROM unnest($2::uuid[]) AS t(id)', [account, callIds]);
}
