import express, { type Request, type Response } from 'express';
import { basicAuth } from './auth';
import { isTerminal, type CallRecord } from './call-record';
import type { Account, CallEngine } from './engine';
import { errors, type TwilioApiError } from './errors';
import type { FaultBook } from './faults';
import { sendJson, sendTwilioError } from './http-util';
import { listPage } from './list';
import { toResource } from './resource';
import type { ScriptBook } from './scripts';
import { isValidCallbackUrl, MAGIC_NUMBERS, single, validateCreate, type Form } from './validation';

export interface ApiContext {
  engine: CallEngine;
  scripts: ScriptBook;
  faults: FaultBook;
  geoBlockedPrefixes: readonly string[];
  blockedNumbers: ReadonlySet<string>;
  /** Sends a response later (accept-then-timeout); the carrier cancels it on stop. */
  delay(ms: number, send: () => void): void;
}

const formOf = (req: Request): Form => (req.body && typeof req.body === 'object' ? (req.body as Form) : {});

/** The Calls API under /2010-04-01/Accounts/:accountSid, every handler synchronous so each create is atomic. */
export function apiRouter(ctx: ApiContext): express.Router {
  const router = express.Router({ mergeParams: true });
  router.use(basicAuth(ctx.engine.accounts));
  router.use(express.urlencoded({ extended: false, limit: '1mb', parameterLimit: 10_000 }));

  const findCall = (req: Request, res: Response): CallRecord => {
    const account = res.locals.account as Account;
    const call = ctx.engine.calls.get(String(req.params.sid));
    if (!call || call.deleted || call.accountSid !== account.sid) throw errors.notFound(req.originalUrl.split('?')[0] ?? '');
    return call;
  };

  router.post('/Calls.json', (req, res) => {
    const account = res.locals.account as Account;
    const fault = ctx.faults.takeCreateFault();
    if (fault?.kind === '429') throw errors.tooManyRequests();
    if (fault?.kind === '5xx' && !fault.created) throw errors.serverError(fault.status);

    const request = validateCreate(formOf(req), {
      ownedNumbers: account.ownedNumbers,
      geoBlockedPrefixes: ctx.geoBlockedPrefixes,
      blockedNumbers: ctx.blockedNumbers,
    });
    if (request.from === MAGIC_NUMBERS.queueFullFrom || ctx.engine.queueIsFull(account)) throw errors.queueFull();
    const script = ctx.scripts.resolve(request.to, request.from);
    const scripted = script.createFault;
    if (scripted?.status === 429) throw errors.tooManyRequests();
    if (scripted && !scripted.created) throw errors.serverError(scripted.status);

    const call = ctx.engine.create(account, request, script, [...script.callbackFaults, ...ctx.faults.takeCallbackFaults()]);
    const body = toResource(call);
    let failure: TwilioApiError | null = null;
    if (fault?.kind === '5xx') failure = errors.serverError(fault.status);
    else if (scripted) failure = errors.serverError(scripted.status);
    const send = () => (failure ? sendTwilioError(res, failure) : sendJson(res, 201, body));
    const delayMs = fault?.kind === 'delay' ? fault.delayMs : script.responseDelayMs;
    if (delayMs > 0) ctx.delay(delayMs, send);
    else send();
  });

  router.get('/Calls.json', (req, res) => {
    const account = res.locals.account as Account;
    sendJson(res, 200, listPage(account.sid, ctx.engine.calls.values(), req.query as Form));
  });

  router.get('/Calls/:sid.json', (req, res) => {
    sendJson(res, 200, toResource(findCall(req, res)));
  });

  router.post('/Calls/:sid.json', (req, res) => {
    const call = findCall(req, res);
    if (isTerminal(call)) throw errors.invalidCallState();
    const form = formOf(req);
    const status = single(form, 'Status');
    if (status !== undefined && status !== 'canceled' && status !== 'completed') throw errors.invalidUpdateStatus(status);
    for (const key of ['Url', 'StatusCallback', 'FallbackUrl']) {
      const value = single(form, key)?.trim();
      if (value && !isValidCallbackUrl(value)) throw errors.invalidUrl(key, value);
    }
    applyRedirect(call, form);
    if (status) ctx.engine.hangUp(call, status);
    else call.updatedAt = Date.now();
    sendJson(res, 200, toResource(call));
  });

  router.delete('/Calls/:sid.json', (req, res) => {
    const call = findCall(req, res);
    // Only the record of an ended call can be deleted; a live call would keep running unseen.
    if (!isTerminal(call)) throw errors.invalidCallState();
    call.deleted = true;
    res.status(204).end();
  });

  router.all(['/Calls.json', '/Calls/:sid.json'], (req) => {
    throw errors.methodNotAllowed(req.method);
  });
  return router;
}

/**
 * Url/Twiml/Method, Fallback* and StatusCallback(Method) on a live call: new instructions, new callback target.
 * The new instructions are stored, not fetched: a call that is not answered yet uses them when it is.
 */
function applyRedirect(call: CallRecord, form: Form): void {
  const url = single(form, 'Url')?.trim();
  const twiml = single(form, 'Twiml');
  const method = single(form, 'Method')?.toUpperCase();
  if (url) call.request = { ...call.request, url, twiml: null };
  else if (twiml) call.request = { ...call.request, twiml, url: null };
  if (method === 'GET' || method === 'POST') call.request = { ...call.request, method };
  const fallbackUrl = single(form, 'FallbackUrl')?.trim();
  const fallbackMethod = single(form, 'FallbackMethod')?.toUpperCase();
  if (fallbackUrl) call.request = { ...call.request, fallbackUrl };
  if (fallbackMethod === 'GET' || fallbackMethod === 'POST') call.request = { ...call.request, fallbackMethod };
  const statusCallback = single(form, 'StatusCallback')?.trim();
  const callbackMethod = single(form, 'StatusCallbackMethod')?.toUpperCase() === 'GET' ? 'GET' : 'POST';
  if (statusCallback) {
    call.callback = { url: statusCallback, method: callbackMethod, events: call.callback?.events ?? new Set(['completed']) };
  } else if (call.callback && single(form, 'StatusCallbackMethod')) {
    call.callback = { ...call.callback, method: callbackMethod };
  }
}
