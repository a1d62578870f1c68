import express, { type NextFunction, type Request, type Response } from 'express';
import {
  AdminInputError,
  blockingBodySchema,
  faultInjectionSchema,
  limitsBodySchema,
  outcomesBodySchema,
  parseAdmin,
  releaseBodySchema,
  scriptsBodySchema,
} from './admin-schemas';
import type { CarrierAdmin } from './carrier';
import type { CallbackFilter, VoiceRequestFilter } from './carrier-api';
import { isLoopback } from './http-util';
import type { CallbackResult, CallFilter, DeliveredEvent, LifecycleStatus, VoiceRequestResult } from './types';
import { WaitTimeoutError } from './waiters';

const text = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 ? v : undefined);

function callFilter(q: Request['query']): CallFilter {
  const f: CallFilter = {};
  const from = text(q.from);
  const to = text(q.to);
  const accountSid = text(q.accountSid);
  const status = text(q.status);
  const live = text(q.live);
  if (from) f.from = from;
  if (to) f.to = to;
  if (accountSid) f.accountSid = accountSid;
  if (status) f.status = status.split(',') as LifecycleStatus[];
  if (live) f.live = live === 'true';
  return f;
}

function callbackFilter(q: Request['query']): CallbackFilter {
  const f: CallbackFilter = {};
  const callSid = text(q.callSid);
  const event = text(q.event);
  const result = text(q.result);
  if (callSid) f.callSid = callSid;
  if (event) f.event = event as DeliveredEvent;
  if (result) f.result = result as CallbackResult;
  return f;
}

function voiceRequestFilter(q: Request['query']): VoiceRequestFilter {
  const f: VoiceRequestFilter = {};
  const callSid = text(q.callSid);
  const result = text(q.result);
  if (callSid) f.callSid = callSid;
  if (result) f.result = result as VoiceRequestResult;
  return f;
}

function countOf(q: Request['query']): number {
  const count = Number(text(q.count) ?? '1');
  if (!Number.isInteger(count) || count < 0) throw new AdminInputError('count must be a whole number');
  return count;
}

function timeoutOf(q: Request['query']): { timeoutMs?: number } {
  const n = Number(text(q.timeoutMs));
  return Number.isFinite(n) && n > 0 ? { timeoutMs: Math.min(n, 600_000) } : {};
}

/**
 * /__sandbox: instrumentation and control for tests whose carrier runs in another process.
 * No credentials, so loopback peers only. Bodies and answers are JSON.
 */
export function adminRouter(carrier: CarrierAdmin): express.Router {
  const router = express.Router();
  router.use((req: Request, res: Response, next: NextFunction) => {
    if (!isLoopback(req.socket.remoteAddress)) {
      res.status(403).json({ error: 'the sandbox admin API answers loopback clients only' });
      return;
    }
    next();
  });
  router.use(express.json({ limit: '1mb' }));

  /**
   * A demo voice app for local campaigns (any URL that answers TwiML would do): it greets the lead
   * by the `name` variable and reads back the others, then hangs up. Form or query parameters.
   */
  router.all('/demo/voice', express.urlencoded({ extended: false }), (req, res) => {
    const vars = Object.entries(req.query).filter((e): e is [string, string] => typeof e[1] === 'string' && !e[0].startsWith('outdial_') && e[0] !== 'name');
    const escape = (v: string) => v.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
    const name = typeof req.query.name === 'string' ? ` ${req.query.name}` : '';
    const details = vars.map(([k, v]) => ` ${k.replace(/_/g, ' ')}: ${v}.`).join('');
    res.type('text/xml').send(`<Response><Say>Hello${escape(name)}, this is Outdial's demo voice app.${escape(details)}</Say><Hangup/></Response>`);
  });

  router.get('/health', (_req, res) => {
    res.json({ ok: true, url: carrier.url, accountSid: carrier.accountSid });
  });
  router.get('/calls', (req, res) => {
    res.json(carrier.calls(callFilter(req.query)));
  });
  router.get('/calls/:sid', (req, res) => {
    const call = carrier.call(req.params.sid);
    if (!call) res.status(404).json({ error: `no call ${req.params.sid}` });
    else res.json(call);
  });
  router.get('/callbacks', (req, res) => {
    res.json(carrier.callbacks(callbackFilter(req.query)));
  });
  router.get('/voice-requests', (req, res) => {
    res.json(carrier.voiceRequests(voiceRequestFilter(req.query)));
  });
  router.get('/requests', (_req, res) => {
    res.json(carrier.requests());
  });
  router.get('/stats', (_req, res) => {
    res.json(carrier.stats());
  });
  router.post('/reset', (_req, res) => {
    carrier.reset();
    res.json({ ok: true });
  });
  router.get('/scripts', (_req, res) => {
    res.json(carrier.scriptState());
  });
  router.put('/scripts', (req, res) => {
    const body = parseAdmin(scriptsBodySchema, req.body, 'scripts body');
    carrier.setScripts(body.rules, body.defaultScript);
    res.json(carrier.scriptState());
  });
  router.post('/outcomes', (req, res) => {
    carrier.queueOutcomes(parseAdmin(outcomesBodySchema, req.body, 'outcomes body').outcomes);
    res.json({ queued: carrier.scriptState().queued.length });
  });
  router.get('/faults', (_req, res) => {
    res.json(carrier.pendingFaults());
  });
  router.post('/faults', (req, res) => {
    carrier.injectFaults(parseAdmin(faultInjectionSchema, req.body, 'faults body'));
    res.json(carrier.pendingFaults());
  });
  router.delete('/faults', (_req, res) => {
    res.json({ dropped: carrier.clearFaults() });
  });
  router.get('/blocked', (_req, res) => {
    res.json(carrier.blocking());
  });
  router.post('/blocked', (req, res) => {
    const body = parseAdmin(blockingBodySchema, req.body, 'blocked body');
    carrier.blockNumbers(body.numbers ?? []);
    carrier.geoBlockPrefixes(body.geoPrefixes ?? []);
    res.json(carrier.blocking());
  });
  router.put('/limits', (req, res) => {
    const accountSid = text(req.query.accountSid);
    carrier.setAccountLimits(parseAdmin(limitsBodySchema, req.body, 'limits body'), accountSid);
    res.json({ ok: true });
  });
  router.post('/calls/:sid/release', (req, res) => {
    const { outcome } = parseAdmin(releaseBodySchema, req.body ?? {}, 'release body');
    const released = carrier.releaseCall(req.params.sid, outcome);
    res.status(released ? 200 : 409).json({ released });
  });
  router.post('/release-all', (req, res) => {
    const { outcome } = parseAdmin(releaseBodySchema, req.body ?? {}, 'release body');
    res.json({ released: carrier.releaseAll(outcome) });
  });
  router.get('/wait/calls', async (req, res) => {
    res.json(await carrier.waitForCalls(countOf(req.query), callFilter(req.query), timeoutOf(req.query)));
  });
  router.get('/wait/callbacks', async (req, res) => {
    res.json(await carrier.waitForCallbacks(countOf(req.query), callbackFilter(req.query), timeoutOf(req.query)));
  });
  router.get('/wait/voice-requests', async (req, res) => {
    res.json(await carrier.waitForVoiceRequests(countOf(req.query), voiceRequestFilter(req.query), timeoutOf(req.query)));
  });
  router.get('/wait/idle', async (req, res) => {
    await carrier.whenIdle(timeoutOf(req.query));
    res.json({ idle: true, stats: carrier.stats() });
  });

  router.use((_req: Request, res: Response) => {
    res.status(404).json({ error: 'no such sandbox admin route' });
  });
  router.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const message = err instanceof Error ? err.message : String(err);
    if (err instanceof WaitTimeoutError) res.status(408).json({ error: message });
    else if (err instanceof AdminInputError || (err as { status?: number }).status === 400) res.status(400).json({ error: message });
    else res.status(409).json({ error: message });
  });
  return router;
}
