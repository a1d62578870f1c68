import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

/**
 * Debian's headless Chromium, smallest first (`npx playwright install` cannot download here).
 * CHROMIUM_PATH names another binary.
 */
const CANDIDATES = [
  process.env.CHROMIUM_PATH,
  '/usr/bin/chromium-headless-shell',
  '/usr/lib/chromium/chromium-headless-shell',
  '/usr/bin/chromium',
  '/usr/lib/chromium/chromium',
].filter((p): p is string => Boolean(p));

const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** A headless Chromium driven by playwright-core; the caller closes it. */
export async function launchBrowser(): Promise<Browser> {
  const executablePath = CANDIDATES.find((p) => existsSync(p));
  if (!executablePath) {
    throw new Error(`no headless Chromium found (looked in ${CANDIDATES.join(', ')}): install it with \`apt-get install -y chromium-headless-shell\` (or chromium), as .ci/run does`);
  }
  return await chromium.launch({ executablePath, args: FLAGS });
}
