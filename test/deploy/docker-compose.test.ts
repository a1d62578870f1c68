import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { OUTDIAL_SEARCH_ATTRIBUTES } from '../../src/search-attributes';

const ROOT = path.resolve(__dirname, '../..');
type Service = { image?: string; build?: string; command?: string[] | string; environment?: Record<string, string>; depends_on?: Record<string, unknown> };

describe('docker-compose.yml', () => {
  const file = readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8');
  const services = (parse(file, { merge: true }) as { services: Record<string, Service> }).services;

  test('has Postgres, Temporal on Postgres, the Web UI, search attributes registered, and Outdial built from the Dockerfile', () => {
    expect(Object.keys(services).sort()).toEqual(['api', 'postgres', 'sandbox-carrier', 'temporal', 'temporal-schema', 'temporal-setup', 'temporal-ui', 'worker']);
    // Temporal's maintained images: the server, with its schema set up by the admin tools first (auto-setup is deprecated).
    expect(services.temporal!.image).toMatch(/^temporalio\/server:\d+\.\d+\.\d+$/);
    expect(services.temporal!.environment).toMatchObject({ DB: 'postgres12', POSTGRES_SEEDS: 'postgres' });
    expect(services.temporal!.depends_on).toMatchObject({ 'temporal-schema': { condition: 'service_completed_successfully' } });
    expect(Object.values(services).some((s) => s.image?.startsWith('temporalio/auto-setup'))).toBe(false);
    expect(services['temporal-ui']!.environment).toMatchObject({ TEMPORAL_ADDRESS: 'temporal:7233' });
    // The setup scripts the admin-tools services run are the repository's own.
    for (const name of ['temporal-schema', 'temporal-setup']) {
      const script = (services[name] as { entrypoint?: string[] }).entrypoint!.at(-1)!.replace('/setup/', 'deploy/temporal/');
      expect(existsSync(path.join(ROOT, script))).toBe(true);
    }
    const setup = readFileSync(path.join(ROOT, 'deploy/temporal/setup-namespace.sh'), 'utf8');
    for (const key of OUTDIAL_SEARCH_ATTRIBUTES) expect(setup).toContain(`--name ${key.name} --type Keyword`);
    for (const name of ['api', 'worker']) {
      const s = services[name]!;
      expect(s.build).toBe('.');
      expect(s.environment).toMatchObject({ DATABASE_URL: 'postgres://outdial:outdial@postgres:5432/outdial', TEMPORAL_ADDRESS: 'temporal:7233' });
      for (const required of ['TWILIO_ACCOUNT_SID', 'TWILIO_AUTH_TOKEN', 'PUBLIC_HOST']) expect(s.environment).toHaveProperty(required);
      expect(s.depends_on).toHaveProperty('temporal-setup');
    }
    // No default secret: the auth token (callback signatures, the sandbox's) and the admin keys must be set.
    for (const name of ['api', 'worker']) {
      const env = services[name]!.environment!;
      expect(env.TWILIO_AUTH_TOKEN).toMatch(/^\$\{TWILIO_AUTH_TOKEN:\?/);
      expect(env.OUTDIAL_ADMIN_KEYS).toMatch(/^\$\{OUTDIAL_ADMIN_KEYS:\?/);
    }
    expect(services['sandbox-carrier']!.environment!.SANDBOX_AUTH_TOKEN).toMatch(/^\$\{TWILIO_AUTH_TOKEN:\?/);
    // Only the API listens on every interface.
    for (const [name, s] of Object.entries(services)) {
      for (const port of (s as { ports?: string[] }).ports ?? []) if (name !== 'api') expect([name, port]).toEqual([name, expect.stringMatching(/^127\.0\.0\.1:/)]);
    }
    // Each Outdial process is probed on its own /healthz.
    expect(JSON.stringify((services.api as { healthcheck?: unknown }).healthcheck)).toContain('127.0.0.1:3000/healthz');
    expect(JSON.stringify((services.worker as { healthcheck?: unknown }).healthcheck)).toContain('127.0.0.1:9464/healthz');
    // Node runs the compiled output itself: a signal reaches the process that serves.
    expect(services.api!.command).toEqual(['node', 'dist/src/server.js']);
    expect(services.worker!.command).toEqual(['node', 'dist/src/worker.js']);
    for (const s of Object.values(services)) {
      const entry = Array.isArray(s.command) ? s.command[1] : undefined;
      if (s.build && entry) expect(existsSync(path.join(ROOT, entry.replace(/^dist\//, '').replace(/\.js$/, '.ts')))).toBe(true);
    }
  });

  test('the Dockerfile copies what the services run', () => {
    const dockerfile = readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
    for (const copied of ['package.json package-lock.json', 'drizzle ./drizzle', 'src ./src', '--from=build /app/dist ./dist']) expect(dockerfile).toContain(`COPY ${copied}`);
    expect(dockerfile).toMatch(/RUN npm ci/);
    expect(dockerfile).toMatch(/RUN npm run build/);
    expect(dockerfile).toContain('CMD ["node", "dist/src/server.js"]');
    expect(dockerfile).not.toContain('tsx');
  });

  // CI installs Debian's docker-compose (.ci/run), so this runs there; it parses and validates the file as Compose does.
  const compose = spawnSync('docker-compose', ['version'], { encoding: 'utf8' });
  test(`docker-compose config accepts it (${compose.status === 0 ? 'docker-compose found' : 'docker-compose not installed: structural checks above only'})`, () => {
    if (compose.status !== 0) return;
    const file = path.join(ROOT, 'docker-compose.yml');
    const secrets = { TWILIO_AUTH_TOKEN: 'a-long-random-test-token-0123456789', OUTDIAL_ADMIN_KEYS: 'an-admin-key-of-at-least-32-characters' };
    const normalized = execFileSync('docker-compose', ['-f', file, 'config'], { encoding: 'utf8', env: { PATH: process.env.PATH, ...secrets } });
    expect((parse(normalized) as { services: Record<string, Service> }).services.api!.environment).toMatchObject({ TWILIO_API_BASE_URL: 'http://sandbox-carrier:3100', ...secrets });
    // Without the secrets it refuses, naming what to set.
    const refused = spawnSync('docker-compose', ['-f', file, 'config'], { encoding: 'utf8', env: { PATH: process.env.PATH } });
    expect(refused.status).not.toBe(0);
    expect(refused.stderr).toMatch(/TWILIO_AUTH_TOKEN|OUTDIAL_ADMIN_KEYS/);
  });
});
