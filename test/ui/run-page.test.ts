import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { launchBrowser } from '../helpers/browser';
import { leadPhones, OutdialTestStack } from '../helpers/outdial';

const ARTIFACTS = path.resolve(__dirname, '../../test-artifacts');

/** The little of the page's DOM the waits read (the tests compile without the DOM's types). */
interface PageGlobals {
  document: { querySelector(selector: string): { textContent: string | null } | null };
}

/** The run page in real headless Chromium, reading a live run from the real stack through the API. */
describe('run page', () => {
  let stack: OutdialTestStack;
  let browser: Browser;

  beforeAll(async () => {
    stack = await OutdialTestStack.start({
      carrier: { defaultScript: { dialMs: 2, ringMs: 5, talkMs: 10 } },
      liveEvents: { progressIntervalMs: 100 },
    });
    await stack.startWorker();
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
  });

  afterEach(() => stack.carrier.setScripts([]));

  const businessKey = async (businessId: string) =>
    (await stack.api<{ apiKey: { secret: string } }>('POST', `/v1/businesses/${businessId}/api-keys`, { name: 'page' })).body.apiKey.secret;
  const text = async (page: Page, selector: string) => ((await page.locator(selector).textContent()) ?? '').trim();
  /** Waits (in the page, on every animation frame) until the element's text holds `expected` (the whole text, or a part). */
  const waitForText = (page: Page, selector: string, expected: string, part = false) =>
    page.waitForFunction(
      ([s, t, p]) => {
        const found = (globalThis as unknown as PageGlobals).document.querySelector(s)?.textContent?.trim();
        return p ? found?.includes(t) : found === t;
      },
      [selector, expected, part] as const,
      { timeout: 30_000 },
    );

  test('a live run: counts move to completion, active calls against the limit, the chart, the latest calls, the Temporal UI link', async () => {
    const business = await stack.createBusiness({ maxConcurrentCalls: 3 });
    const key = await businessKey(business.id);
    const phones = leadPhones(9, '+1415780');
    // Calls are held at the carrier until released, wave by wave: the page watches the run move.
    stack.carrier.setScripts([{ to: '+1415780*', outcome: 'hold' }]);
    const run = await stack.createRun(business.id, phones);

    const page = await browser.newPage({ viewport: { width: 1200, height: 1000 } });
    const problems: string[] = [];
    page.on('console', (m) => void (m.type() === 'error' && problems.push(m.text())));
    page.on('pageerror', (e) => problems.push(e.message));
    const response = await page.goto(`${stack.apiUrl}/runs/${run.id}#key=${encodeURIComponent(key)}`);
    expect(response!.headers()['content-security-policy']).toMatch(/script-src 'nonce-[^']+'/);
    // The key left the address bar (and so the history) once read.
    expect(page.url()).toBe(`${stack.apiUrl}/runs/${run.id}`);

    await waitForText(page, '#connection', 'live');
    await waitForText(page, '#job-dialing .n', '3');
    await waitForText(page, '#active', '3');
    expect(await text(page, '#limit')).toBe('3');
    expect(await text(page, '#done')).toBe('0');
    expect(await text(page, '#total')).toBe('9');
    expect(await text(page, '#run-status')).toBe('running');
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: path.join(ARTIFACTS, 'run-page-live.png'), fullPage: true });

    stack.carrier.releaseAll();
    await waitForText(page, '#done', '3');
    await waitForText(page, '#job-dialing .n', '3');

    stack.carrier.setScripts([]);
    stack.carrier.releaseAll();
    await waitForText(page, '#run-status', 'completed');
    await waitForText(page, '#connection', 'ended');
    await waitForText(page, '#done', '9');
    expect(await text(page, '#job-completed .n')).toBe('9');
    expect(await text(page, '#job-queued .n')).toBe('0');
    expect(await text(page, '#outcome-completed .n')).toBe('9');
    expect(await text(page, '#active')).toBe('0');

    // The chart: every dial and end of the run's calls, as a line of points, under the limit line.
    const samples = Number(await page.locator('#chart-line').getAttribute('data-samples'));
    expect(samples).toBeGreaterThanOrEqual(18);
    const points = (await page.locator('#chart-line').getAttribute('points'))!.trim().split(/\s+/);
    expect(points.length).toBeGreaterThan(samples);
    expect(await page.locator('#chart-limit').getAttribute('class')).not.toContain('hidden');
    expect(await text(page, '#chart-limit-label')).toBe('business limit 3');

    // The latest calls: one row per call, the numbers dialed, each completed.
    const rows = page.locator('#calls tr');
    expect(await rows.count()).toBe(9);
    const dialed = await page.locator('#calls tr td:nth-child(2)').allInnerTexts();
    expect([...dialed].sort()).toEqual([...phones].sort());
    expect(new Set(await page.locator('#calls tr td:nth-child(4)').allInnerTexts())).toEqual(new Set(['completed']));

    expect(await page.locator('#temporal-link').getAttribute('href')).toBe(`http://localhost:8233/namespaces/default/workflows/${run.workflowId}`);
    expect(problems).toEqual([]);

    await page.screenshot({ path: path.join(ARTIFACTS, 'run-page.png'), fullPage: true });
    await page.close();
  });

  test('without a key the page asks for one; a key of another business is told the run does not exist', async () => {
    const owner = await stack.createBusiness();
    const other = await stack.createBusiness();
    const run = await stack.createRun(owner.id, leadPhones(1, '+1415781'));
    await stack.runResult(run);
    const page = await browser.newPage();
    await page.goto(`${stack.apiUrl}/runs/${run.id}`);
    expect(await page.locator('#key-card').isVisible()).toBe(true);
    await page.fill('#key-input', await businessKey(other.id));
    await page.click('#key-form button');
    await waitForText(page, '#notice', 'No such run', true);
    expect(await text(page, '#notice')).toContain(`run ${run.id} does not exist`);
    // The owner's key shows the finished run.
    await page.fill('#key-input', await businessKey(owner.id));
    await page.click('#key-form button');
    await waitForText(page, '#run-status', 'completed');
    await waitForText(page, '#done', '1');
    await page.close();
  });
});
