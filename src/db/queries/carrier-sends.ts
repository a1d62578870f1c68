import type { PoolClient } from 'pg';
import type { Pacing } from '../../claim/slots';

/**
 * Queries of `carrier_sends`, the per-account pacing log. At most `callsPerSecond` places are in use
 * at once, and a place is in use from its claim until PACING_WINDOW_MS after the carrier ANSWERED its
 * create. A create reaches the carrier between its claim and that answer, so every create the carrier
 * receives within any one second holds its place at that second's end: the carrier never sees more
 * than `callsPerSecond` in a second, however late a loaded worker's request arrives.
 */
export const PACING_WINDOW_MS = 1_100;

/**
 * How many creates the account may still send, under a per-account transaction lock (every pacer of
 * the account, on any process, waits for it until it commits), and when the next place frees if none
 * is left. A place not yet answered counts for `inFlightSeconds` after its claim (a claimed call is
 * dialed within MAX_DIAL_DELAY_SECONDS or never, and its request ends within the request timeout),
 * so a worker that dies mid-dial gives its place back then.
 */
export async function sendPlacesLeft(client: PoolClient, pacing: Pacing): Promise<{ left: number; nextFreeAt: Date | null }> {
  const { account, callsPerSecond, inFlightSeconds } = pacing;
  await client.query("SELECT pg_advisory_xact_lock(hashtext('outdial-carrier-pacing'), hashtext($1))", [account]);
  await client.query("DELETE FROM carrier_sends WHERE account = $1 AND claimed_at < clock_timestamp() - interval '30 seconds'", [account]);
  const r = await client.query<{ n: string; oldest: Date | null }>(
    `SELECT count(*) AS n, min(sent_at) AS oldest FROM carrier_sends
      WHERE account = $1
        AND (sent_at > clock_timestamp() - make_interval(secs => $2)
             OR (sent_at IS NULL AND claimed_at > clock_timestamp() - make_interval(secs => $3)))`,
    [account, PACING_WINDOW_MS / 1000, inFlightSeconds],
  );
  const left = Math.max(0, callsPerSecond - Number(r.rows[0]?.n ?? 0));
  if (left > 0) return { left, nextFreeAt: null };
  // Every place is in use: the oldest answered one frees a window after its answer; with only
  // creates not yet answered, look again shortly.
  const oldest = r.rows[0]?.oldest;
  return { left, nextFreeAt: new Date(oldest ? oldest.getTime() + PACING_WINDOW_MS : Date.now() + 200) };
}

/** Places taken by these claimed calls (stamped when the carrier answers each one's create). */
export async function recordSends(client: PoolClient, account: string, callIds: string[]): Promise<void> {
  if (callIds.length === 0) return;
  await client.query('INSERT INTO carrier_sends (account, call_id) SELECT $1, id FROM unnest($2::uuid[]) AS t(id)', [account, callIds]);
}

/** The carrier answered this call's create (or the request failed): its place frees a window from now. */
export async function stampCarrierAnswer(db: Pick<PoolClient, 'query'>, callId: string): Promise<void> {
  await db.query('UPDATE carrier_sends SET sent_at = clock_timestamp() WHERE call_id = $1 AND sent_at IS NULL', [callId]);
}
