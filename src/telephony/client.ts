import twilio from 'twilio';
import { CarrierRequestClient, rebase } from './request-client';

export type TelephonyClient = twilio.Twilio;

type RequestClientOptions = ConstructorParameters<typeof twilio.RequestClient>[0];
type RequestOptions<TData> = Parameters<InstanceType<typeof twilio.RequestClient>['request']>[0] & { data?: TData };

/**
 * The SDK's own client (axios), for TWILIO_HTTP_CLIENT=sdk. The twilio SDK has no base-URL option; a
 * RequestClient that rewrites the host is the route its maintainers point to.
 */
export class BaseUrlRequestClient extends twilio.RequestClient {
  constructor(
    private readonly baseUrl: string,
    opts?: RequestClientOptions,
  ) {
    super(opts);
  }

  override request<TData>(opts: RequestOptions<TData>) {
    return super.request<TData>({ ...opts, uri: rebase(opts.uri, this.baseUrl) });
  }
}

export interface TelephonyOptions {
  accountSid: string;
  authToken: string;
  /** A Twilio-compatible base URL (the sandbox carrier, a recording proxy); unset means real Twilio. */
  apiBaseUrl?: string;
  /** Per-request timeout in ms (TWILIO_REQUEST_TIMEOUT_MS); the SDK's default is 30 s. */
  requestTimeoutMs?: number;
  /** TWILIO_HTTP_CLIENT: `node` (CarrierRequestClient, the default) or `sdk` (the SDK's own axios client). */
  httpClient?: 'node' | 'sdk';
}

const MAX_429_RETRIES = 3;

/**
 * The one place a `twilio` client is made. 429s are retried by the SDK with jittered backoff
 * (they are never processed by Twilio, so a retry cannot place a second call).
 */
export function createTelephonyClient(opts: TelephonyOptions): TelephonyClient {
  const timeout = opts.requestTimeoutMs ? { timeout: opts.requestTimeoutMs } : {};
  const sdkOptions: RequestClientOptions = { autoRetry: true, maxRetries: MAX_429_RETRIES, ...timeout };
  const httpClient =
    opts.httpClient === 'sdk'
      ? opts.apiBaseUrl
        ? new BaseUrlRequestClient(opts.apiBaseUrl, sdkOptions)
        : new twilio.RequestClient(sdkOptions)
      : new CarrierRequestClient({ maxRetries: MAX_429_RETRIES, ...(opts.apiBaseUrl ? { baseUrl: opts.apiBaseUrl } : {}), ...(opts.requestTimeoutMs ? { timeoutMs: opts.requestTimeoutMs } : {}) });
  return twilio(opts.accountSid, opts.authToken, { httpClient });
}

