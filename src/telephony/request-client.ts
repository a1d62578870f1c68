import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import twilio from 'twilio';

type SdkRequestOptions = Parameters<InstanceType<typeof twilio.RequestClient>['request']>[0];
type SdkResponse<TData> = Awaited<ReturnType<InstanceType<typeof twilio.RequestClient>['request']>> & { body: TData };

export interface CarrierRequestClientOptions {
  /** A Twilio-compatible base URL the SDK's api.twilio.com URIs are rewritten to; unset: the SDK's URI as is. */
  baseUrl?: string;
  /** The whole request's deadline in ms (the SDK's default is 30 s). */
  timeoutMs?: number;
  /** 429 answers retried with the SDK's full-jitter backoff (Twilio never processes a 429). */
  maxRetries: number;
}

// The SDK's own defaults (twilio/lib/base/RequestClient.js), kept so the choice of transport changes nothing on the wire.
const SDK = { timeoutMs: 30_000, initialRetryMs: 100, maxRetryDelayMs: 3_000, maxSockets: 20, maxTotalSockets: 100, maxFreeSockets: 5 };

/** Appends fields as the SDK's client encodes them (qs, arrayFormat "repeat"): one per array element, undefined left out. */
function appendFields(target: URLSearchParams, fields: object): URLSearchParams {
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    for (const one of Array.isArray(value) ? value : [value]) target.append(key, one === null ? '' : String(one));
  }
  return target;
}

/** The SDK's api.twilio.com URI with its host replaced by `baseUrl` (the SDK has no base-URL option). */
export function rebase(uri: string, baseUrl: string): string {
  const original = new URL(uri);
  return new URL(original.pathname + original.search, `${baseUrl}/`).toString();
}

/**
 * The `twilio` SDK's HTTP transport, through its documented `httpClient` option: the SDK still builds
 * every request (resources, parameters, auth, headers) and reads every answer (instances,
 * RestException); only the bytes go through node:http instead of axios. Measured in the 100k-lead
 * run, axios and qs were over half of everything the worker allocated (~90 KB per create).
 * Everything the SDK's client does is kept: keep-alive agents with its socket limits, 429 retries
 * with its backoff, no redirects followed, any status answered as a response, a JSON body parsed
 * when it is JSON. The deadline covers the whole request (axios's is per socket inactivity), so a
 * create is never in flight past it (withdrawableAfterSeconds relies on that). With HTTP_PROXY set,
 * requests go through the SDK's own client, which knows that proxy.
 * It extends the SDK's class only for its type (the parent's axios instance is never used).
 */
export class CarrierRequestClient extends twilio.RequestClient {
  private readonly baseUrl: string | undefined;
  private readonly viaProxy = Boolean(process.env.HTTP_PROXY);
  private readonly agents: { http: http.Agent; https: https.Agent };

  constructor(opts: CarrierRequestClientOptions) {
    super({ autoRetry: true, maxRetries: opts.maxRetries, timeout: opts.timeoutMs ?? SDK.timeoutMs });
    this.baseUrl = opts.baseUrl;
    const ca = process.env.TWILIO_CA_BUNDLE === undefined ? undefined : readFileSync(process.env.TWILIO_CA_BUNDLE);
    this.agents = {
      http: new http.Agent({ keepAlive: true }),
      https: new https.Agent({ keepAlive: true, maxSockets: SDK.maxSockets, maxTotalSockets: SDK.maxTotalSockets, maxFreeSockets: SDK.maxFreeSockets, timeout: this.defaultTimeout, ...(ca ? { ca } : {}) }),
    };
  }

  override async request<TData>(opts: SdkRequestOptions & { data?: TData }): Promise<SdkResponse<TData>> {
    const uri = this.baseUrl ? rebase(opts.uri, this.baseUrl) : opts.uri;
    if (this.viaProxy) return super.request<TData>({ ...opts, uri }) as Promise<SdkResponse<TData>>;
    const headers: Record<string, string> = { ...(opts.headers as Record<string, string> | undefined) };
    if (!headers.Connection && !headers.connection) headers.Connection = 'keep-alive';
    if (opts.username && opts.password) headers.Authorization = `Basic ${Buffer.from(`${opts.username}:${opts.password}`).toString('base64')}`;
    else if (opts.authStrategy) headers.Authorization = await opts.authStrategy.getAuthString();
    const url = new URL(uri);
    if (opts.params) appendFields(url.searchParams, opts.params);
    let body: string | undefined;
    if (opts.data && headers['Content-Type'] === 'application/x-www-form-urlencoded') body = appendFields(new URLSearchParams(), opts.data).toString();
    else if (opts.data && headers['Content-Type'] === 'application/json') body = JSON.stringify(opts.data);
    if (body !== undefined) headers['Content-Length'] = String(Buffer.byteLength(body));
    const timeoutMs = opts.timeout || this.defaultTimeout;
    for (let retry = 1; ; retry++) {
      const res = await this.send<TData>(url, opts.method.toUpperCase(), headers, body, timeoutMs);
      if (res.statusCode !== 429 || retry > this.maxRetries) return res;
      const ceiling = Math.min(this.maxRetryDelay || SDK.maxRetryDelayMs, SDK.initialRetryMs * 2 ** retry);
      await new Promise((resolve) => setTimeout(resolve, Math.floor(ceiling * Math.random())));
    }
  }

  private send<TData>(url: URL, method: string, headers: Record<string, string>, body: string | undefined, timeoutMs: number): Promise<SdkResponse<TData>> {
    const secure = url.protocol === 'https:';
    return new Promise((resolve, reject) => {
      const req = (secure ? https : http).request(url, { method, headers, agent: secure ? this.agents.https : this.agents.http }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          clearTimeout(deadline);
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown = text;
          if (text) {
            try {
              parsed = JSON.parse(text);
            } catch {
              // not JSON: the SDK's client hands the text on as it is
            }
          }
          resolve({ statusCode: res.statusCode ?? 0, body: parsed as TData, headers: res.headers } as SdkResponse<TData>);
        });
      });
      // The SDK's client (axios) fails a timeout with this code and message: failures are read one way.
      const deadline = setTimeout(() => req.destroy(Object.assign(new Error(`timeout of ${timeoutMs}ms exceeded`), { code: 'ECONNABORTED' })), timeoutMs);
      req.on('error', (err) => {
        clearTimeout(deadline);
        reject(err);
      });
      req.end(body);
    });
  }
}
