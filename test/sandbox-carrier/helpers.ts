import { EventEmitter } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type Request, type Response } from 'express';
import twilio from 'twilio';
import { startSandboxCarrier, type SandboxCarrier } from '../../src/sandbox-carrier';
import { createTelephonyClient, type TelephonyClient } from '../../src/telephony/client';

export interface ReceivedCallback {
  method: string;
  /** The full URL as the receiver reconstructs it (what validateRequest is given). */
  url: string;
  params: Record<string, string>;
  signature: string;
  idempotencyToken: string;
  userAgent: string;
  contentType: string;
  authorization: string;
  /** twilio.validateRequest's verdict. */
  valid: boolean;
  /** Status the receiver answered. */
  status: number;
}

/** Return true when the hook answered (or destroyed) the request itself. */
export type ReceiverHook = (cb: ReceivedCallback, req: Request, res: Response) => boolean;

/** A request for the voice app (a path under /twiml), validated like a callback. */
export interface VoiceFetch extends ReceivedCallback {
  /** The query of the URL as received, which holds the caller's own variables (and, for GET, Twilio's). */
  query: Record<string, string>;
}

export type VoiceHook = (fetch: VoiceFetch, req: Request, res: Response) => boolean;

/** Keeps a call in progress: the script's talk time (or hold) decides when it ends. */
export const PAUSE_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response><Pause length="60"/></Response>';

/**
 * A status-callback endpoint as an application would write it: express.urlencoded, then the SDK's
 * own twilio.validateRequest over the public URL; 403 when the signature does not match. Paths
 * under /twiml are the voice app instead: they answer `twiml` (or `voiceHook`) and are kept apart
 * in `voiceFetches`, so callback counts never include them.
 */
export class CallbackReceiver {
  readonly received: ReceivedCallback[] = [];
  readonly voiceFetches: VoiceFetch[] = [];
  hook: ReceiverHook | null = null;
  voiceHook: VoiceHook | null = null;
  twiml = PAUSE_TWIML;
  private readonly events = new EventEmitter();

  private constructor(
    private readonly server: http.Server,
    readonly url: string,
  ) {}

  static async start(authToken: string): Promise<CallbackReceiver> {
    const app = express();
    const server = http.createServer(app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const receiver = new CallbackReceiver(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    app.use(express.urlencoded({ extended: false }));
    app.use((req: Request, res: Response) => {
      const url = receiver.url + req.originalUrl;
      const params = req.method === 'POST' ? { ...(req.body as Record<string, string>) } : { ...(req.query as Record<string, string>) };
      const signature = req.get('X-Twilio-Signature') ?? '';
      const cb: ReceivedCallback = {
        method: req.method,
        url,
        params,
        signature,
        idempotencyToken: req.get('I-Twilio-Idempotency-Token') ?? '',
        userAgent: req.get('User-Agent') ?? '',
        contentType: req.get('Content-Type') ?? '',
        authorization: req.get('Authorization') ?? '',
        valid: twilio.validateRequest(authToken, signature, url, req.method === 'POST' ? params : {}),
        status: 0,
      };
      if (req.path.startsWith('/twiml')) {
        receiver.serveTwiml({ ...cb, query: { ...(req.query as Record<string, string>) } }, req, res);
        return;
      }
      if (receiver.hook?.(cb, req, res)) {
        cb.status = res.headersSent ? res.statusCode : -1;
      } else {
        cb.status = cb.valid ? 204 : 403;
        res.status(cb.status).end();
      }
      receiver.received.push(cb);
      receiver.events.emit('received');
    });
    return receiver;
  }

  /** Where the voice app lives; `path` may carry a query of the caller's own variables. */
  twimlUrl(path = ''): string {
    return `${this.url}/twiml${path}`;
  }

  private serveTwiml(fetch: VoiceFetch, req: Request, res: Response): void {
    if (this.voiceHook?.(fetch, req, res)) {
      fetch.status = res.headersSent ? res.statusCode : -1;
    } else if (!fetch.valid) {
      fetch.status = 403;
      res.status(403).end();
    } else {
      fetch.status = 200;
      res.status(200).type('text/xml').send(this.twiml);
    }
    this.voiceFetches.push(fetch);
    this.events.emit('received');
  }

  /** Resolves once `count` voice requests for the call have arrived. */
  waitForVoice(callSid: string, count = 1, timeoutMs = 10_000): Promise<VoiceFetch[]> {
    const mine = () => this.voiceFetches.filter((f) => f.params.CallSid === callSid);
    return this.waitFor(() => mine().length >= count, timeoutMs).then(mine);
  }

  forCall(callSid: string): ReceivedCallback[] {
    return this.received.filter((c) => c.params.CallSid === callSid);
  }

  /** Resolves once the predicate holds over everything received so far (checked on each arrival). */
  waitFor(predicate: (received: ReceivedCallback[]) => boolean, timeoutMs = 10_000): Promise<ReceivedCallback[]> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (!predicate(this.received)) return;
        cleanup();
        resolve(this.received);
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`callback receiver: condition not met within ${timeoutMs} ms (${this.received.length} received)`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        this.events.off('received', check);
      };
      this.events.on('received', check);
      check();
    });
  }

  waitForCall(callSid: string, count: number, timeoutMs?: number): Promise<ReceivedCallback[]> {
    return this.waitFor((all) => all.filter((c) => c.params.CallSid === callSid).length >= count, timeoutMs).then(() => this.forCall(callSid));
  }

  clear(): void {
    this.received.length = 0;
    this.voiceFetches.length = 0;
    this.hook = null;
    this.voiceHook = null;
    this.twiml = PAUSE_TWIML;
  }

  async stop(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
  }
}

export function sdkFor(carrier: SandboxCarrier, opts: { timeoutMs?: number; authToken?: string } = {}): TelephonyClient {
  return createTelephonyClient({
    accountSid: carrier.accountSid,
    authToken: opts.authToken ?? carrier.authToken,
    apiBaseUrl: carrier.url,
    ...(opts.timeoutMs ? { requestTimeoutMs: opts.timeoutMs } : {}),
  });
}

export interface CarrierFixture {
  readonly carrier: SandboxCarrier;
  readonly receiver: CallbackReceiver;
  readonly client: TelephonyClient;
}

/**
 * One carrier, callback receiver and SDK client for the whole file, since starting servers per test
 * would dominate the suite's time. The getters throw outside a test because the servers only exist
 * between beforeAll and afterAll. `resetEachTest: false` is for a file that drives reset itself
 * (the admin API over HTTP) and whose tests therefore share state on purpose.
 */
export function useCarrierFixture(opts: { resetEachTest?: boolean } = {}): CarrierFixture {
  let carrier: SandboxCarrier | undefined;
  let receiver: CallbackReceiver | undefined;
  let client: TelephonyClient | undefined;

  beforeAll(async () => {
    carrier = await startSandboxCarrier({ port: 0 });
    receiver = await CallbackReceiver.start(carrier.authToken);
    client = sdkFor(carrier);
  });

  afterAll(async () => {
    await carrier?.stop();
    await receiver?.stop();
  });

  if (opts.resetEachTest ?? true) {
    beforeEach(() => {
      started(carrier).reset();
      started(receiver).clear();
    });
  }

  return {
    get carrier() {
      return started(carrier);
    },
    get receiver() {
      return started(receiver);
    },
    get client() {
      return started(client);
    },
  };
}

function started<T>(value: T | undefined): T {
  if (value === undefined) throw new Error('carrier fixture used outside a test: it starts in beforeAll');
  return value;
}

export interface RawResponse {
  status: number;
  headers: Headers;
  body: Record<string, unknown> | null;
}

/** A hand-made request for what the SDK refuses to send (missing To, odd encodings, bad auth). */
export async function rawRequest(
  carrier: SandboxCarrier,
  method: string,
  path: string,
  opts: { form?: string | URLSearchParams; auth?: string | null } = {},
): Promise<RawResponse> {
  const headers: Record<string, string> = {};
  const auth = opts.auth === undefined ? `${carrier.accountSid}:${carrier.authToken}` : opts.auth;
  if (auth !== null) headers.Authorization = `Basic ${Buffer.from(auth).toString('base64')}`;
  if (opts.form !== undefined) headers['Content-Type'] = 'application/x-www-form-urlencoded';
  const res = await fetch(carrier.url + path, { method, headers, ...(opts.form !== undefined ? { body: opts.form.toString() } : {}) });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? (JSON.parse(text) as Record<string, unknown>) : null };
}

export const callsPath = (carrier: SandboxCarrier) => `/2010-04-01/Accounts/${carrier.accountSid}/Calls.json`;

/** The RestException (or other error) a promise rejected with; fails the test if it resolved. */
export async function rejection(promise: Promise<unknown>): Promise<{ status?: number; code?: number; message: string; moreInfo?: string; name: string }> {
  try {
    await promise;
  } catch (err) {
    return err as { status?: number; code?: number; message: string; moreInfo?: string; name: string };
  }
  throw new Error('expected the request to fail, but it succeeded');
}

export const FROM = '+14155550100';
/**
 * A voice URL nothing serves (port 80 on loopback): an answered call asking it ends at once with
 * 11200. For calls that must stay up, use the receiver's `twimlUrl()`.
 */
export const TWIML_URL = 'http://127.0.0.1/twiml';
