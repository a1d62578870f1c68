import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../config';
import { DEFAULT_CALLS_PER_SECOND, startSandboxCarrier, type SandboxCarrier } from '../sandbox-carrier';
import { formatLogLine, forEachLine } from './log-lines';
import { postgresClusterDir, startEmbeddedPostgres, type EmbeddedPostgresServer } from './postgres';
import { isPortFree, MALLOC_ARENA_MAX, spawnManaged, waitUntil, type ManagedProcess } from './processes';
import { loadStackConfig } from './stack-config';
import { ensureTemporalCli } from './temporal-cli';
import { startTemporalDevServer, type TemporalDevServer } from './temporal-server';

/**
 * `npm start`: the whole of Outdial on one machine. Embedded Postgres, the Temporal dev server with
 * its Web UI, the sandbox carrier, one worker and the API; Ctrl-C stops them all, in reverse order.
 * Any service the user already points at (DATABASE_URL, TEMPORAL_ADDRESS, Twilio settings) is used
 * instead of starting one.
 */

const ROOT = path.resolve(__dirname, '../..');
const TSX = path.join(ROOT, 'node_modules/.bin/tsx');
const say = (line: string) => process.stdout.write(`${line}\n`);

/**
 * The development admin key: OUTDIAL_ADMIN_KEYS if the user set it, otherwise one made on the first
 * start and kept (owner-only) in the data directory, so it stays the same across restarts.
 */
function developmentAdminKey(dataDir: string): { keys: string; shown: string } {
  const configured = process.env.OUTDIAL_ADMIN_KEYS?.split(',').map((k) => k.trim()).filter(Boolean)[0];
  if (configured) return { keys: process.env.OUTDIAL_ADMIN_KEYS!, shown: configured };
  const file = path.join(dataDir, 'admin-key');
  if (!existsSync(file)) writeFileSync(file, `odadmin_dev_${randomBytes(24).toString('base64url')}\n`, { mode: 0o600 });
  const key = readFileSync(file, 'utf8').trim();
  return { keys: key, shown: key };
}

async function main() {
  const stack = loadStackConfig();
  const stoppers: { name: string; stop: () => Promise<void> }[] = [];
  let stopping = false;
  const stopAll = async (code: number) => {
    if (stopping) return;
    stopping = true;
    say('Stopping Outdial…');
    for (const { name, stop } of stoppers.reverse()) {
      say(`  stopping ${name}`);
      await stop().catch((err: unknown) => say(`  could not stop ${name}: ${(err as Error).message}`));
    }
    say('Stopped.');
    process.exit(code);
  };
  process.on('SIGINT', () => void stopAll(0));
  process.on('SIGTERM', () => void stopAll(0));

  try {
    const wanted: [number, string, string][] = [[stack.apiPort, 'PORT', 'the API']];
    if (!stack.external.databaseUrl) wanted.push([stack.postgresPort, 'POSTGRES_PORT', 'Postgres']);
    if (!stack.external.temporalAddress) wanted.push([stack.temporalPort, 'TEMPORAL_PORT', 'Temporal'], [stack.temporalUiPort, 'TEMPORAL_UI_PORT', 'the Temporal Web UI']);
    if (!stack.external.twilio) wanted.push([stack.carrierPort, 'SANDBOX_CARRIER_PORT', 'the sandbox carrier']);
    for (const [port, variable, what] of wanted) {
      if (!(await isPortFree(port))) {
        throw new Error(`port ${port} for ${what} is in use (is Outdial already running?); free it or set ${variable}`);
      }
    }
    mkdirSync(stack.dataDir, { recursive: true });
    const adminKey = developmentAdminKey(stack.dataDir);
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      OUTDIAL_ENV: process.env.OUTDIAL_ENV ?? 'development',
      PORT: String(stack.apiPort),
      OUTDIAL_ADMIN_KEYS: adminKey.keys,
    };

    const temporalCli = stack.external.temporalAddress ? undefined : ensureTemporalCli({ say });
    let postgres: EmbeddedPostgresServer | undefined;
    if (!stack.external.databaseUrl) {
      postgres = await startEmbeddedPostgres({ dataDir: postgresClusterDir(path.join(stack.dataDir, 'postgres'), say), port: stack.postgresPort, say });
      stoppers.push({ name: 'Postgres', stop: () => postgres!.stop() });
      env.DATABASE_URL = postgres.databaseUrl;
    }
    let temporal: TemporalDevServer | undefined;
    if (temporalCli) {
      temporal = await startTemporalDevServer({
        cliPath: await temporalCli,
        port: stack.temporalPort,
        uiPort: stack.temporalUiPort,
        dbFilename: path.join(stack.dataDir, 'temporal.sqlite'),
      });
      stoppers.push({ name: 'Temporal', stop: () => temporal!.stop() });
      env.TEMPORAL_ADDRESS = temporal.address;
      // The run page links to this UI (its port follows TEMPORAL_UI_PORT).
      if (temporal.uiUrl) env.TEMPORAL_UI_URL ??= temporal.uiUrl;
    }
    let carrier: SandboxCarrier | undefined;
    if (!stack.external.twilio) {
      // Calls that ring for a second and talk for three, so a demo run can be watched as it goes;
      // real-time Timeouts (timeScale 1), so a call is only "no-answer" after ringing as long as on Twilio.
      carrier = await startSandboxCarrier({ port: stack.carrierPort, timeScale: 1, defaultScript: { ringMs: 1_000, talkMs: 3_000 } });
      stoppers.push({ name: 'sandbox carrier', stop: () => carrier!.stop() });
      env.TWILIO_ACCOUNT_SID = carrier.accountSid;
      env.TWILIO_AUTH_TOKEN = carrier.authToken;
      env.TWILIO_API_BASE_URL = carrier.url;
      // Outdial keeps to the sandbox account's own dial rate (Twilio's default would be 1 per second).
      env.TWILIO_CALLS_PER_SECOND ??= String(DEFAULT_CALLS_PER_SECOND);
      // The sandbox is on this machine, so the API's loopback address is a true public host for it.
      env.PUBLIC_HOST ??= `http://127.0.0.1:${stack.apiPort}`;
    }

    env.MALLOC_ARENA_MAX = MALLOC_ARENA_MAX;
    const children: [string, string][] = [
      ['worker', 'src/worker.ts'],
      ['api', 'src/server.ts'],
    ];
    for (const [name, entry] of children) {
      const child: ManagedProcess = spawnManaged(TSX, [path.join(ROOT, entry)], { env, cwd: ROOT });
      forEachLine(child.child.stdout, (line) => say(formatLogLine(name, line)));
      forEachLine(child.child.stderr, (line) => say(formatLogLine(name, line)));
      void child.exited.then((code) => {
        if (!stopping) {
          say(`The ${name} exited (code ${code}); stopping everything.`);
          void stopAll(1);
        }
      });
      stoppers.push({ name, stop: () => child.stop(25_000) });
    }

    const apiUrl = `http://127.0.0.1:${stack.apiPort}`;
    await waitUntil(async () => (await fetch(`${apiUrl}/healthz`)).ok, { timeoutMs: 120_000, what: `the API on ${apiUrl}` });
    const uiUrl = temporal?.uiUrl;
    say('');
    say('Outdial is running.');
    say(`  API                 ${apiUrl}   (health: ${apiUrl}/healthz)`);
    if (uiUrl) say(`  Temporal Web UI     ${uiUrl}`);
    say(`  Temporal frontend   ${env.TEMPORAL_ADDRESS}`);
    if (carrier) say(`  Sandbox carrier     ${carrier.url}   (calls: ${carrier.url}/__sandbox/calls)`);
    say(`  Postgres            ${postgres ? `embedded, ${postgres.databaseUrl}` : 'external (DATABASE_URL)'}`);
    say(`  Admin API key       ${adminKey.shown}   (development only; kept in ${path.join(stack.dataDir, 'admin-key')})`);
    say('');
    say('In another terminal, set the key for the README examples and the demo:');
    say(`  export OUTDIAL_ADMIN_KEY=${adminKey.shown} API=${apiUrl}${carrier ? ` CARRIER=${carrier.url}` : ''}`);
    say('and for the outdial CLI (npx outdial --help):');
    say(`  export OUTDIAL_API_URL=${apiUrl} OUTDIAL_API_KEY=${adminKey.shown}`);
    say('Start a demo campaign (20 leads on the sandbox carrier):');
    say(`  npm run demo -- --api ${apiUrl}${uiUrl ? ` --ui ${uiUrl}` : ''}`);
    if (uiUrl) say(`and watch it in the Temporal Web UI: ${uiUrl}/namespaces/default/workflows`);
    say('Press Ctrl-C to stop everything.');
  } catch (err) {
    const message = err instanceof ConfigError ? err.message : `failed to start: ${(err as Error).message}`;
    process.stderr.write(`outdial start: ${message}\n`);
    await stopAll(1);
  }
}

void main();
