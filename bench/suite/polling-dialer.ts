/**
 * A polling dialer written the way the reviewed (old Flask) design works, for side-by-side figures:
 * every POLL_MS one loop visits each business with queued jobs, counts its active calls in
 * Postgres, claims queued jobs up to its limit, and dials them with the official `twilio` SDK; a
 * slot is freed only by the call's terminal status callback. It is kept correct where the reviewed
 * design was not (a claimed job counts as active at once, and one loop does count-then-claim, so the
 * limit holds), so the comparison is of the refill path, not of its bugs.
 *
 * Run by the benchmark suite as its own OS process; environment:
 *   DATABASE_URL (its own database), POLL_MS, PORT (callbacks and control), TWILIO_API_BASE_URL,
 *   TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN.
 * Control: POST /jobs {"callerId", "limit", "phones": [...]} queues a business's leads (201).
 */
import http from 'node:http';
import pg from 'pg';
import twilio from 'twilio';
import { DEFAULT_TWIML } from '../../src/calls/instructions';
import { createTelephonyClient } from '../../src/telephony/client';

const env = (name: string) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is required`);
  return value;
};
const POLL_MS = Number(env('POLL_MS'));
const PORT = Number(env('PORT'));
const AUTH_TOKEN = env('TWILIO_AUTH_TOKEN');
const publicUrl = `http://127.0.0.1:${PORT}`;
const pool = new pg.Pool({ connectionString: env('DATABASE_URL'), max: 10 });
const carrier = createTelephonyClient({ accountSid: env('TWILIO_ACCOUNT_SID'), authToken: AUTH_TOKEN, apiBaseUrl: env('TWILIO_API_BASE_URL') });
const TERMINAL = new Set(['completed', 'busy', 'no-answer', 'failed', 'canceled']);

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS poll_businesses (caller_id text PRIMARY KEY, max_concurrent int NOT NULL);
  CREATE TABLE IF NOT EXISTS poll_jobs (
    id bigserial PRIMARY KEY,
    caller_id text NOT NULL REFERENCES poll_businesses,
    phone text NOT NULL,
    status text NOT NULL DEFAULT 'queued', -- queued | dialing | live | done
    call_sid text
  );
  CREATE INDEX IF NOT EXISTS poll_jobs_caller_status ON poll_jobs (caller_id, status);`;

/** One business's turn in a poll: count, claim up to the limit (one transaction), then dial. */
async function pollBusiness(callerId: string, limit: number): Promise<void> {
  const client = await pool.connect();
  let claimed: { id: string; phone: string }[];
  try {
    await client.query('BEGIN');
    const active = await client.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM poll_jobs WHERE caller_id = $1 AND status IN ('dialing', 'live')`,
      [callerId],
    );
    const free = limit - active.rows[0]!.n;
    claimed = free <= 0 ? [] : (await client.query<{ id: string; phone: string }>(
      `UPDATE poll_jobs SET status = 'dialing' WHERE id IN (
         SELECT id FROM poll_jobs WHERE caller_id = $1 AND status = 'queued' ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED)
       RETURNING id, phone`,
      [callerId, free],
    )).rows;
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK');
    throw err;
  } finally {
    client.release();
  }
  await Promise.all(claimed.map(async (job) => {
    try {
      const call = await carrier.calls.create({
        to: job.phone,
        from: callerId,
        twiml: DEFAULT_TWIML,
        statusCallback: `${publicUrl}/status?job=${job.id}`,
        statusCallbackMethod: 'POST',
        statusCallbackEvent: ['initiated', 'ringing', 'answered', 'completed'],
      });
      await pool.query(`UPDATE poll_jobs SET call_sid = $2 WHERE id = $1`, [job.id, call.sid]);
    } catch (err) {
      await pool.query(`UPDATE poll_jobs SET status = 'done' WHERE id = $1`, [job.id]);
      console.error(`dial of job ${job.id} failed: ${(err as Error).message}`);
    }
  }));
}

/** The poll: every POLL_MS from the start of the last one (at once if it overran), every business with work. */
async function pollForever(): Promise<never> {
  for (;;) {
    const began = Date.now();
    const { rows } = await pool.query<{ caller_id: string; max_concurrent: number }>(
      `SELECT b.caller_id, b.max_concurrent FROM poll_businesses b
        WHERE EXISTS (SELECT 1 FROM poll_jobs j WHERE j.caller_id = b.caller_id AND j.status = 'queued')`,
    );
    await Promise.all(rows.map((b) => pollBusiness(b.caller_id, b.max_concurrent).catch((err: unknown) => console.error(String(err)))));
    await new Promise((r) => setTimeout(r, Math.max(0, began + POLL_MS - Date.now())));
  }
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => resolve(body));
    req.on('error', reject);
  });
}

async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', publicUrl);
  const body = await readBody(req);
  if (req.method === 'POST' && url.pathname === '/status') {
    const params = Object.fromEntries(new URLSearchParams(body));
    if (!twilio.validateRequest(AUTH_TOKEN, req.headers['x-twilio-signature'] as string, publicUrl + req.url, params)) {
      res.writeHead(403).end();
      return;
    }
    const status = params.CallStatus ?? '';
    await pool.query(`UPDATE poll_jobs SET status = $2 WHERE id = $1 AND status <> 'done'`, [url.searchParams.get('job'), TERMINAL.has(status) ? 'done' : 'live']);
    res.writeHead(204).end();
    return;
  }
  if (req.method === 'POST' && url.pathname === '/jobs') {
    const { callerId, limit, phones } = JSON.parse(body) as { callerId: string; limit: number; phones: string[] };
    await pool.query(`INSERT INTO poll_businesses (caller_id, max_concurrent) VALUES ($1, $2) ON CONFLICT (caller_id) DO UPDATE SET max_concurrent = $2`, [callerId, limit]);
    await pool.query(`INSERT INTO poll_jobs (caller_id, phone) SELECT $1, unnest($2::text[])`, [callerId, phones]);
    res.writeHead(201).end();
    return;
  }
  res.writeHead(404).end();
}

async function main() {
  await pool.query(SCHEMA);
  http
    .createServer((req, res) => {
      handle(req, res).catch((err: unknown) => {
        console.error(String(err));
        if (!res.headersSent) res.writeHead(500).end();
      });
    })
    .listen(PORT, '127.0.0.1', () => console.log(`polling dialer listening on ${publicUrl}, poll every ${POLL_MS} ms`));
  await pollForever();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
