import { ConfigError } from '../config';
import { createLogger } from '../logger';
import { startSandboxCarrier } from './carrier';
import { loadSandboxEnv } from './env';

/** `npm run sandbox-carrier`: the carrier as its own process, configured by SANDBOX_* variables. */
async function main(): Promise<void> {
  const env = loadSandboxEnv();
  const carrier = await startSandboxCarrier({
    port: env.SANDBOX_CARRIER_PORT,
    host: env.SANDBOX_CARRIER_HOST,
    accountSid: env.SANDBOX_ACCOUNT_SID,
    authToken: env.SANDBOX_AUTH_TOKEN,
    callsPerSecond: env.SANDBOX_CALLS_PER_SECOND,
    ...(env.SANDBOX_OWNED_NUMBERS ? { ownedNumbers: env.SANDBOX_OWNED_NUMBERS } : {}),
    logger: createLogger('sandbox-carrier'),
  });
  process.stdout.write(
    [
      `Sandbox carrier listening on ${carrier.url}`,
      `  TWILIO_API_BASE_URL=${carrier.url}`,
      `  TWILIO_ACCOUNT_SID=${carrier.accountSid}`,
      `  TWILIO_AUTH_TOKEN=${carrier.authToken}`,
      `  admin API: ${carrier.url}/__sandbox (see docs/sandbox-carrier.md)`,
      '',
    ].join('\n'),
  );
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`Sandbox carrier: ${signal} received, stopping\n`);
    carrier.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`Sandbox carrier: stop failed: ${err instanceof Error ? err.message : String(err)}\n`);
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', () => shutdown('SIGINT'));
  process.once('SIGTERM', () => shutdown('SIGTERM'));
}

main().catch((err: unknown) => {
  if (err instanceof ConfigError) process.stderr.write(`${err.message}\n`);
  else process.stderr.write(`Sandbox carrier failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
