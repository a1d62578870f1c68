import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { temporal as proto } from '@temporalio/proto';
import type { Browser, Page } from 'playwright-core';
import { freePort } from '../../src/dev/processes';
import { startTemporalDevServer, type TemporalDevServer } from '../../src/dev/temporal-server';
import { BUSINESS_ID_SEARCH_ATTRIBUTE } from '../../src/search-attributes';
import { launchBrowser } from '../helpers/browser';
import { leadPhones, OutdialTestStack, pollUntil } from '../helpers/outdial';

/**
 * What an operator sees of a run in the Temporal Web UI, in a real headless Chromium: the runs of a
 * business found by its search attribute, and each step of a run's timeline saying what it did.
 * A Temporal dev server of this file's own, with its Web UI (the suite's is headless).
 * Screenshots go to test-artifacts/temporal-web-ui/ (gitignored).
 */

const ARTIFACTS = path.resolve(__dirname, '../../test-artifacts/temporal-web-ui');
const ZONE = 'America/Chicago';
const EventType = proto.api.enums.v1.EventType;

/** HH:MM in `zone`, as a calling window's start is written. */
function localHourMinute(at: Date, zone: string): string {
  return new Intl.DateTimeFormat('en-GB', { timeZone: zone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(at);
}

/** A moment as the timeline shows it: `09:00 America/Chicago` today there, `Wed 2 Dec 09:00 America/Chicago` on another day. */
function localLabelPattern(hourMinute: string): string {
  return `([A-Z][a-z]{2} \\d{1,2} [A-Z][a-z]{2} )?${hourMinute} ${ZONE.replace('/', '\\/')}`;
}

describe('Temporal Web UI: a run timeline operators can read', () => {
  let temporal: TemporalDevServer;
  let stack: OutdialTestStack;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    const cliPath = process.env.OUTDIAL_TEST_TEMPORAL_CLI;
    if (!cliPath) throw new Error('OUTDIAL_TEST_TEMPORAL_CLI is not set: run the tests through jest (test/global-setup.ts)');
    // The dev server registers Outdial's search attributes itself (startTemporalDevServer).
    temporal = await startTemporalDevServer({ cliPath, port: await freePort(), uiPort: await freePort() });
    // Calls talk for 3 s: the first pass's calls are live when it returns, so the run sleeps on a timer.
    stack = await OutdialTestStack.start({ temporalAddress: temporal.address, wakeFallbackSeconds: 3600, carrier: { defaultScript: { dialMs: 2, ringMs: 10, talkMs: 3000 } } });
    await stack.startWorker();
    browser = await launchBrowser();
    page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
  });
  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
    await temporal?.stop();
  });

  /** A business in Chicago (its zone is the one waits are shown in), with 3 slots. */
  async function chicagoBusiness(): Promise<{ id: string }> {
    const business = await stack.createBusiness({ maxConcurrentCalls: 3 });
    const res = await stack.api('PATCH', `/v1/businesses/${business.id}`, { timeZone: ZONE });
    expect(res.status).toBe(200);
    return business;
  }

  async function startRun(businessId: string, phones: string[], settings: Record<string, unknown> = {}): Promise<{ id: string; workflowId: string }> {
    const res = await stack.api<{ run: { id: string; workflowId: string } }>('POST', `/v1/businesses/${businessId}/runs`, {
      leads: phones.map((phone) => ({ phone, timeZone: ZONE })),
      ...settings,
    });
    expect(res.status).toBe(201);
    return res.body.run;
  }

  /** Resolves once the run sleeps on a timer (the UI shows history as it is when the page loads). */
  async function untilTimerStarted(workflowId: string): Promise<void> {
    const handle = stack.temporal.client.workflow.getHandle(workflowId);
    await pollUntil(async () => ((await handle.fetchHistory()).events ?? []).some((e) => e.eventType === EventType.EVENT_TYPE_TIMER_STARTED));
  }

  /**
   * The business's runs, as the UI lists them for a visibility query on its search attribute: the
   * workflow IDs listed once `shown` is.
   */
  async function listBusinessWorkflows(businessId: string, shown: string): Promise<string[]> {
    const query = `${BUSINESS_ID_SEARCH_ATTRIBUTE.name}="${businessId}"`;
    await page.goto(`${temporal.uiUrl}/namespaces/default/workflows?query=${encodeURIComponent(query)}`);
    await page.getByRole('link', { name: shown, exact: true }).waitFor();
    return (await page.getByRole('link', { name: /^bulk-call-run-/ }).allTextContents()).map((t) => t.trim()).sort();
  }

  /** Opens a run from the list; its page opens on the timeline. */
  async function openRunTimeline(workflowId: string): Promise<void> {
    await page.getByRole('link', { name: workflowId, exact: true }).click();
    await page.getByRole('heading', { name: workflowId }).waitFor();
    await page.getByRole('heading', { name: 'Timeline' }).waitFor();
  }

  test("a finished run: found by its business, each step's summary in its timeline", async () => {
    const business = await chicagoBusiness();
    const other = await chicagoBusiness();
    const run = await startRun(business.id, leadPhones(2, '+1312563'));
    const otherRun = await startRun(other.id, leadPhones(1, '+1312564'));
    const [done] = await Promise.all([stack.runResult(run), stack.runResult(otherRun)]);
    expect(done.status).toBe('completed');
    expect(stack.carrier.calls({ from: (await stack.api<{ business: { callerId: string } }>('GET', `/v1/businesses/${business.id}`)).body.business.callerId })).toHaveLength(2);

    // The query keeps to the business: its run, not the other business's.
    expect(await listBusinessWorkflows(business.id, run.workflowId)).toEqual([run.workflowId]);
    await page.screenshot({ path: path.join(ARTIFACTS, 'business-workflows.png') });

    await openRunTimeline(run.workflowId);
    for (const summary of [
      'startRun • start the run: mark it running, find its public host',
      'dialAvailableSlots • claim and dial',
      // The timer after the first pass says what the pass did and what the run waited for.
      'dialed 2 leads, 2/3 active; waiting for 2 calls to end',
      'finishRun • finish the run: completed, 2 dialed',
    ]) {
      await page.getByText(summary, { exact: true }).first().waitFor();
    }
    await page.screenshot({ path: path.join(ARTIFACTS, 'finished-run-timeline.png'), fullPage: true });
  });

  test('runs waiting for their calling window and for their start time say until when, in the business zone', async () => {
    const business = await chicagoBusiness();
    // A window that opened 3 hours from now, local to Chicago, for an hour.
    const now = new Date();
    const hourIn = (h: number) => localHourMinute(new Date(now.getTime() + h * 3600_000), ZONE).slice(0, 2);
    const opens = `${hourIn(3)}:00`;
    const windowRun = await startRun(business.id, leadPhones(1, '+1312565'), {
      callingWindow: { days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'], start: opens, end: `${hourIn(4)}:00`, blackoutDates: [] },
    });
    const startAt = new Date(now.getTime() + 2 * 3600_000);
    const laterRun = await startRun(business.id, leadPhones(1, '+1312566'), { startAt: startAt.toISOString() });
    await Promise.all([untilTimerStarted(windowRun.workflowId), untilTimerStarted(laterRun.workflowId)]);

    const listed = await listBusinessWorkflows(business.id, windowRun.workflowId);
    expect(listed).toEqual([windowRun.workflowId, laterRun.workflowId].sort());
    await openRunTimeline(windowRun.workflowId);
    const windowWait = new RegExp(`^dialed none; waiting until ${localLabelPattern(opens)} \\(calling window\\)$`);
    await page.getByText(windowWait).first().waitFor();
    await page.screenshot({ path: path.join(ARTIFACTS, 'calling-window-timeline.png'), fullPage: true });

    await page.goBack();
    await openRunTimeline(laterRun.workflowId);
    const startWait = new RegExp(`^dialed none; waiting for the start time, ${localLabelPattern(localHourMinute(startAt, ZONE))}$`);
    await page.getByText(startWait).first().waitFor();
    await page.screenshot({ path: path.join(ARTIFACTS, 'start-at-timeline.png'), fullPage: true });

    // The run's summary and current details (User Metadata): which run, and where it stands.
    await page.getByRole('tab', { name: 'User Metadata' }).or(page.getByRole('link', { name: 'User Metadata' })).first().click();
    // The UI renders each (markdown) in a frame of its own.
    await page.frameLocator('iframe#user-metadata-summary').getByText(`bulk call run ${laterRun.id} of business ${business.id}`).waitFor();
    const details = page.frameLocator('iframe#user-metadata-current-details');
    await details.getByText(new RegExp(`^dialed 0 so far; 1 queued, 0 dialing; waiting for the start time, ${localLabelPattern(localHourMinute(startAt, ZONE))}$`)).waitFor();
    await page.screenshot({ path: path.join(ARTIFACTS, 'start-at-current-details.png'), fullPage: true });

    for (const run of [windowRun, laterRun]) {
      expect((await stack.api('POST', `/v1/runs/${run.id}/cancel`)).status).toBe(200);
      expect((await stack.runResult(run)).status).toBe('canceled');
    }
    expect(stack.carrier.calls({ to: leadPhones(1, '+1312565')[0] })).toHaveLength(0);
  });
});
