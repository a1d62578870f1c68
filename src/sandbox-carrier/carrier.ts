import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type NextFunction, type Request, type Response } from 'express';
import pino from 'pino';
import { adminRouter } from './admin-routes';
import {
  callScriptSchema,
  faultInjectionSchema,
  limitsBodySchema,
  numberListSchema,
  outcomesBodySchema,
  prefixListSchema,
  parseAdmin,
  releaseBodySchema,
  scriptRuleSchema,
} from './admin-schemas';
import { apiRouter } from './api-routes';
import { isTerminal, toView, type CallRecord } from './call-record';
import { CallbackDispatcher } from './callbacks';
import { CallEngine, type Account } from './engine';
import { errors } from './errors';
import { FaultBook } from './faults';
import { HttpSender } from './http-sender';
import { asTwilioError, sendTwilioError } from './http-util';
import { Instrumentation } from './instrumentation';
import { ScriptBook } from './scripts';
import { ACCOUNT_SID, DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN } from './sids';
import type { AccountLimits, CallbackFilter, SandboxCarrier, SandboxCarrierOptions, VoiceRequestFilter, WaitOptions } from './carrier-api';
import type * as types from './types';
import { DEFAULT_GEO_BLOCKED_PREFIXES } from './validation';
import { DEFAULT_VOICE_URL_TIMEOUT_MS, VoiceFetcher } from './voice-app';
import { ChangeSignal } from './waiters';

function callMatches(call: CallRecord, f: types.CallFilter): boolean {
  if (f.sid !== undefined && call.sid !== f.sid) return false;
  if (f.accountSid !== undefined && call.accountSid !== f.accountSid) return false;
  if (f.from !== undefined && call.from !== f.from) return false;
  if (f.to !== undefined && call.to !== f.to) return false;
  if (f.live !== undefined && f.live === isTerminal(call)) return false;
  if (f.status !== undefined) {
    const statuses = Array.isArray(f.status) ? f.status : [f.status];
    if (!statuses.includes(call.lifecycle)) return false;
  }
  return true;
}

function voiceRequestMatches(r: types.VoiceRequestRecord, f: VoiceRequestFilter): boolean {
  return (f.callSid === undefined || r.callSid === f.callSid) && (f.result === undefined || r.result === f.result);
}

function callbackMatches(r: types.CallbackRecord, f: CallbackFilter): boolean {
  return (f.callSid === undefined || r.callSid === f.callSid) && (f.event === undefined || r.event === f.event) && (f.result === undefined || r.result === f.result);
}

class Carrier implements SandboxCarrier {
  url = '';
  port = 0;
  readonly accountSid: string;
  readonly authToken: string;
  private readonly logger: pino.Logger;
  private readonly signal = new ChangeSignal();
  private readonly instrumentation = new Instrumentation();
  private readonly sender = new HttpSender();
  private readonly dispatcher: CallbackDispatcher;
  private readonly voice: VoiceFetcher;
  private readonly engine: CallEngine;
  private readonly scripts: ScriptBook;
  private readonly faults = new FaultBook();
  private readonly delayed = new Set<NodeJS.Timeout>();
  private readonly blockedNumbers = new Set<string>();
  private readonly geoBlockedPrefixes: string[] = [];
  private readonly server: http.Server;
  private readonly waitTimeoutMs: number;
  private stopping: Promise<void> | null = null;

  constructor(private readonly opts: SandboxCarrierOptions) {
    this.logger = opts.logger ?? pino({ level: 'silent' });
    this.accountSid = opts.accountSid ?? DEFAULT_ACCOUNT_SID;
    this.authToken = opts.authToken ?? DEFAULT_AUTH_TOKEN;
    this.waitTimeoutMs = opts.waitTimeoutMs ?? 30_000;
    const accounts: types.AccountConfig[] = [
      {
        accountSid: this.accountSid,
        authToken: this.authToken,
        ...(opts.ownedNumbers ? { ownedNumbers: opts.ownedNumbers } : {}),
        ...(opts.callsPerSecond !== undefined ? { callsPerSecond: opts.callsPerSecond } : {}),
        ...(opts.queueLimit !== undefined ? { queueLimit: opts.queueLimit } : {}),
      },
      ...(opts.accounts ?? []),
    ];
    for (const a of accounts) {
      if (!ACCOUNT_SID.test(a.accountSid)) throw new Error(`sandbox carrier: ${a.accountSid} is not an account SID (AC + 32 hex digits)`);
      if (a.callsPerSecond !== undefined && !(a.callsPerSecond > 0)) throw new Error('sandbox carrier: callsPerSecond must be > 0');
    }
    this.scripts = new ScriptBook(
      parseAdmin(scriptRuleSchema.array(), opts.scripts ?? [], 'scripts'),
      parseAdmin(callScriptSchema, opts.defaultScript ?? {}, 'defaultScript'),
    );
    this.dispatcher = new CallbackDispatcher(this.instrumentation, this.signal, this.sender, opts.callbackRetryDelayMs ?? 50, this.logger);
    const voiceTimeout = opts.voiceUrlTimeoutMs ?? DEFAULT_VOICE_URL_TIMEOUT_MS;
    if (!(voiceTimeout > 0)) throw new Error('sandbox carrier: voiceUrlTimeoutMs must be > 0');
    this.voice = new VoiceFetcher(this.instrumentation, this.signal, this.sender, voiceTimeout, this.logger);
    this.engine = new CallEngine(accounts, this.instrumentation, this.dispatcher, this.voice, this.signal, opts.timeScale ?? 0.01, this.logger);
    this.resetBlocking();
    this.server = http.createServer(this.app());
    this.server.keepAliveTimeout = 30_000;
  }

  async listen(): Promise<void> {
    const host = this.opts.host ?? '127.0.0.1';
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.opts.port ?? 0, host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    this.port = (this.server.address() as AddressInfo).port;
    // A wildcard bind is reached through loopback from this machine.
    const reachable = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
    this.url = `http://${reachable.includes(':') ? `[${reachable}]` : reachable}:${this.port}`;
    this.logger.info({ url: this.url, accountSid: this.accountSid }, 'sandbox carrier listening');
  }

  private app(): express.Express {
    const app = express();
    app.disable('x-powered-by');
    app.set('etag', false);
    app.use('/__sandbox', adminRouter(this));
    app.use('/2010-04-01', (req: Request, res: Response, next: NextFunction) => {
      const at = Date.now();
      res.on('close', () =>
        this.instrumentation.recordRequest({
          at,
          method: req.method,
          path: req.originalUrl.split('?')[0] ?? '',
          query: { ...(req.query as Record<string, unknown>) },
          form: req.body && typeof req.body === 'object' ? { ...(req.body as Record<string, unknown>) } : {},
          status: res.headersSent ? res.statusCode : 0,
          errorCode: typeof res.locals.errorCode === 'number' ? res.locals.errorCode : null,
        }),
      );
      next();
    });
    app.use(
      '/2010-04-01/Accounts/:accountSid',
      apiRouter({
        engine: this.engine,
        scripts: this.scripts,
        faults: this.faults,
        geoBlockedPrefixes: this.geoBlockedPrefixes,
        blockedNumbers: this.blockedNumbers,
        delay: (ms, send) => this.delay(ms, send),
      }),
    );
    app.use((req: Request, _res: Response, next: NextFunction) => next(errors.notFound(req.originalUrl.split('?')[0] ?? '')));
    app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
      const twilioError = asTwilioError(err);
      if (twilioError) return sendTwilioError(res, twilioError);
      this.logger.error({ err }, 'sandbox carrier: unexpected error');
      sendTwilioError(res, errors.serverError(500));
    });
    return app;
  }

  private delay(ms: number, send: () => void): void {
    const timer = setTimeout(() => {
      this.delayed.delete(timer);
      send();
    }, ms);
    this.delayed.add(timer);
  }

  private account(accountSid?: string): Account {
    const account = this.engine.accounts.get(accountSid ?? this.accountSid);
    if (!account) throw new Error(`sandbox carrier: unknown account ${accountSid}`);
    return account;
  }

  private records(filter: types.CallFilter): CallRecord[] {
    const out: CallRecord[] = [];
    for (const call of this.engine.calls.values()) if (callMatches(call, filter)) out.push(call);
    return out;
  }

  calls(filter: types.CallFilter = {}): types.CallView[] {
    return this.records(filter).map(toView);
  }

  call(sid: string): types.CallView | undefined {
    const call = this.engine.calls.get(sid);
    return call ? toView(call) : undefined;
  }

  callbacks(filter: CallbackFilter = {}): types.CallbackRecord[] {
    return this.instrumentation.callbacks().filter((r) => callbackMatches(r, filter));
  }

  voiceRequests(filter: VoiceRequestFilter = {}): types.VoiceRequestRecord[] {
    return this.instrumentation.voiceRequests().filter((r) => voiceRequestMatches(r, filter));
  }

  requests(): types.ApiRequestRecord[] {
    return [...this.instrumentation.requests()];
  }

  stats(): types.SandboxStats {
    return this.instrumentation.stats();
  }

  reset(): void {
    this.engine.reset();
    this.dispatcher.clear();
    this.voice.clear();
    this.instrumentation.reset();
    this.scripts.reset();
    this.faults.clear();
    this.resetBlocking();
    this.signal.notify();
  }

  private resetBlocking(): void {
    this.blockedNumbers.clear();
    for (const n of this.opts.blockedNumbers ?? []) this.blockedNumbers.add(n);
    this.geoBlockedPrefixes.splice(0, this.geoBlockedPrefixes.length, ...(this.opts.geoBlockedPrefixes ?? DEFAULT_GEO_BLOCKED_PREFIXES));
  }

  blockNumbers(numbers: string[]): void {
    for (const n of parseAdmin(numberListSchema, numbers, 'numbers')) this.blockedNumbers.add(n);
  }

  geoBlockPrefixes(prefixes: string[]): void {
    for (const p of parseAdmin(prefixListSchema, prefixes, 'prefixes')) if (!this.geoBlockedPrefixes.includes(p)) this.geoBlockedPrefixes.push(p);
  }

  blocking(): { numbers: string[]; geoPrefixes: string[] } {
    return { numbers: [...this.blockedNumbers], geoPrefixes: [...this.geoBlockedPrefixes] };
  }

  setScripts(rules: types.ScriptRule[], defaultScript?: types.CallScript): void {
    this.scripts.setRules(
      parseAdmin(scriptRuleSchema.array(), rules, 'script rules'),
      defaultScript === undefined ? undefined : parseAdmin(callScriptSchema, defaultScript, 'default script'),
    );
  }

  scriptState() {
    return this.scripts.currentRules();
  }

  queueOutcomes(outcomes: Array<types.Outcome | types.CallScript>): void {
    this.scripts.queueOutcomes(parseAdmin(outcomesBodySchema, { outcomes }, 'outcomes').outcomes);
  }

  injectFaults(faults: types.FaultInjection): void {
    this.faults.inject(parseAdmin(faultInjectionSchema, faults, 'faults'));
  }

  pendingFaults() {
    return this.faults.pending();
  }

  /** Drops the faults no request or call has consumed yet; returns what was dropped. */
  clearFaults() {
    return this.faults.clear();
  }

  setAccountLimits(limits: AccountLimits, accountSid?: string): void {
    this.engine.setAccountLimits(this.account(accountSid), parseAdmin(limitsBodySchema, limits, 'limits'));
  }

  releaseCall(sid: string, outcome?: types.ReleaseOutcome): boolean {
    const parsed = parseAdmin(releaseBodySchema, outcome === undefined ? {} : { outcome }, 'release outcome');
    const call = this.engine.calls.get(sid);
    return call ? this.engine.release(call, parsed.outcome) : false;
  }

  releaseAll(outcome?: types.ReleaseOutcome): number {
    const parsed = parseAdmin(releaseBodySchema, outcome === undefined ? {} : { outcome }, 'release outcome');
    let released = 0;
    // An answered call cannot end busy or no-answer: those are released as completed.
    for (const call of [...this.engine.calls.values()]) {
      if (call.script.outcome !== 'hold' || isTerminal(call)) continue;
      const asked = parsed.outcome ?? 'completed';
      const fitting = call.lifecycle === 'in-progress' && (asked === 'busy' || asked === 'no-answer') ? 'completed' : asked;
      if (this.engine.release(call, fitting)) released++;
    }
    return released;
  }

  waitFor(predicate: () => boolean, opts: WaitOptions & { description?: string } = {}): Promise<void> {
    if (this.stopping) return Promise.reject(new Error('sandbox carrier is stopped'));
    return this.signal.waitFor(predicate, opts.timeoutMs ?? this.waitTimeoutMs, opts.description ?? 'a condition');
  }

  async waitForCalls(count: number, filter: types.CallFilter = {}, opts: WaitOptions = {}): Promise<types.CallView[]> {
    await this.waitFor(() => this.records(filter).length >= count, { ...opts, description: `${count} calls matching ${JSON.stringify(filter)}` });
    return this.calls(filter);
  }

  async waitForCall(sid: string, status: types.LifecycleStatus | types.LifecycleStatus[], opts: WaitOptions = {}): Promise<types.CallView> {
    const statuses = Array.isArray(status) ? status : [status];
    await this.waitFor(
      () => {
        const call = this.engine.calls.get(sid);
        return call !== undefined && (statuses.includes(call.lifecycle) || call.timeline.some((t) => statuses.includes(t.status)));
      },
      { ...opts, description: `call ${sid} to reach ${statuses.join('|')}` },
    );
    return toView(this.engine.calls.get(sid) as CallRecord);
  }

  async waitForCallbacks(count: number, filter: CallbackFilter = {}, opts: WaitOptions = {}): Promise<types.CallbackRecord[]> {
    const matching = () => this.instrumentation.callbacks().filter((r) => callbackMatches(r, filter));
    await this.waitFor(() => matching().length >= count, { ...opts, description: `${count} callbacks matching ${JSON.stringify(filter)}` });
    return matching();
  }

  async waitForVoiceRequests(count: number, filter: VoiceRequestFilter = {}, opts: WaitOptions = {}): Promise<types.VoiceRequestRecord[]> {
    await this.waitFor(() => this.voiceRequests(filter).length >= count, { ...opts, description: `${count} voice requests matching ${JSON.stringify(filter)}` });
    return this.voiceRequests(filter);
  }

  whenIdle(opts: WaitOptions = {}): Promise<void> {
    return this.waitFor(() => this.instrumentation.liveTotal() === 0 && this.dispatcher.pending === 0 && this.voice.pending === 0, {
      ...opts,
      description: 'the carrier to be idle (no live call, no pending callback or voice request)',
    });
  }

  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.signal.rejectAll(new Error('sandbox carrier stopped'));
      for (const timer of this.delayed) clearTimeout(timer);
      this.delayed.clear();
      this.engine.clear();
      this.dispatcher.clear();
      this.voice.clear();
      this.sender.destroy();
      const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
      this.server.closeAllConnections();
      await closed;
      this.logger.info('sandbox carrier stopped');
    })();
    return this.stopping;
  }
}

export async function startSandboxCarrier(opts: SandboxCarrierOptions = {}): Promise<SandboxCarrier> {
  const carrier = new Carrier(opts);
  await carrier.listen();
  return carrier;
}

/** The carrier with the extra read-outs the admin routes serve. */
export type CarrierAdmin = Carrier;
