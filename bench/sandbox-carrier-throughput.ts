/**
 * Throughput of the sandbox carrier: N calls created through the real `twilio` SDK with bounded
 * concurrency, every status callback delivered to a local receiver that verifies its signature.
 *
 *   npx tsx bench/sandbox-carrier-throughput.ts [--calls 2000] [--concurrency 32] [--cps 5000] [--events all|completed]
 *
 * Prints creations/s and callbacks/s; exits 1 if creation falls below 200/s or any callback is
 * missing or badly signed.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import express from 'express';
import twilio from 'twilio';
import { startSandboxCarrier } from '../src/sandbox-carrier';
import { createTelephonyClient } from '../src/telephony/client';

const MIN_CREATIONS_PER_SECOND = 200;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      calls: { type: 'string', default: '2000' },
      concurrency: { type: 'string', default: '32' },
      cps: { type: 'string', default: '5000' },
      events: { type: 'string', default: 'all' },
    },
  });
  const total = Number(values.calls);
  const concurrency = Number(values.concurrency);
  const events = values.events === 'completed' ? ['completed'] : ['initiated', 'ringing', 'answered', 'completed'];

  const carrier = await startSandboxCarrier({ callsPerSecond: Number(values.cps), waitTimeoutMs: 300_000 });
  let received = 0;
  let badSignatures = 0;
  const app = express();
  app.post('/status', express.urlencoded({ extended: false }), (req, res) => {
    const url = `${receiverUrl}${req.originalUrl}`;
    if (!twilio.validateRequest(carrier.authToken, req.get('X-Twilio-Signature') ?? '', url, req.body as Record<string, string>)) badSignatures++;
    received++;
    res.status(204).end();
  });
  const receiver = http.createServer(app);
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;

  const client = createTelephonyClient({ accountSid: carrier.accountSid, authToken: carrier.authToken, apiBaseUrl: carrier.url });
  const froms = Array.from({ length: 10 }, (_, i) => `+1650555${String(1000 + i)}`);
  let next = 0;
  let failures = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let i = next++; i < total; i = next++) {
        try {
          await client.calls.create({
            to: `+1415${String(2000000 + i).padStart(7, '0')}`,
            from: froms[i % froms.length] as string,
            url: 'http://127.0.0.1/twiml',
            statusCallback: `${receiverUrl}/status?i=${i}`,
            statusCallbackEvent: events,
          });
        } catch {
          failures++;
        }
      }
    }),
  );
  const created = performance.now();
  await carrier.whenIdle();
  const idle = performance.now();

  const expectedCallbacks = (total - failures) * events.length;
  const creationsPerSecond = (total - failures) / ((created - started) / 1000);
  const callbacksPerSecond = received / ((idle - started) / 1000);
  const peak = Math.max(...Object.values(carrier.stats().perFrom).map((c) => c.peak));
  const lines = [
    `sandbox carrier throughput: ${total} calls, concurrency ${concurrency}, ${values.cps} CPS, events: ${events.join(',')}`,
    `  creations:  ${(total - failures).toString().padStart(6)} in ${((created - started) / 1000).toFixed(2)} s = ${creationsPerSecond.toFixed(0)} creations/s (${failures} failed)`,
    `  callbacks:  ${received.toString().padStart(6)} of ${expectedCallbacks} in ${((idle - started) / 1000).toFixed(2)} s = ${callbacksPerSecond.toFixed(0)} callbacks/s (${badSignatures} bad signatures)`,
    `  peak simultaneous calls per From: ${peak}`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);

  await carrier.stop();
  await new Promise<void>((resolve) => receiver.close(() => resolve()));
  const ok = failures === 0 && badSignatures === 0 && received === expectedCallbacks && creationsPerSecond >= MIN_CREATIONS_PER_SECOND;
  if (!ok) {
    process.stderr.write(`FAIL: expected ≥ ${MIN_CREATIONS_PER_SECOND} creations/s, no failures, every callback validly signed\n`);
    process.exit(1);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
