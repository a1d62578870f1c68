import twilio from 'twilio';

export type TelephonyClient = twilio.Twilio;

type RequestClientOptions = ConstructorParameters<typeof twilio.RequestClient>[0];
type RequestOptions<TData> = Parameters<InstanceType<typeof twilio.RequestClient>['request']>[0] & { data?: TData };

/**
 * The twilio SDK has no base-URL option; a RequestClient that rewrites the host is the route its
 * maintainers point to. Everything else (auth, form encoding, errors) stays the SDK's own.
 */
export class BaseUrlRequestClient extends twilio.RequestClient {
  constructor(
    private readonly baseUrl: string,
    opts?: RequestClientOptions,
  ) {
    super(opts);
  }

  override request<TData>(opts: RequestOptions<TData>) {
    const original = new URL(opts.uri);
    const uri = new URL(original.pathname + original.search, `${this.baseUrl}/`).toString();
    return super.request<TData>({ ...opts, uri });
  }
}

export interface TelephonyOptions {
  accountSid: string;
  authToken: string;
  /** A Twilio-compatible base URL (the sandbox carrier, a recording proxy); unset means real Twilio. */
  apiBaseUrl?: string;
  /** Per-request timeout in ms (TWILIO_REQUEST_TIMEOUT_MS); the SDK's default is 30 s. */
  requestTimeoutMs?: number;
}

/**
 * The one place a `twilio` client is made. 429s are retried by the SDK with jittered backoff
 * (they are never processed by Twilio, so a retry cannot place a second call).
 */
export function createTelephonyClient(opts: TelephonyOptions): TelephonyClient {
  const requestOptions: RequestClientOptions = {
    autoRetry: true,
    maxRetries: 3,
    ...(opts.requestTimeoutMs ? { timeout: opts.requestTimeoutMs } : {}),
  };
  const httpClient = opts.apiBaseUrl
    ? new BaseUrlRequestClient(opts.apiBaseUrl, requestOptions)
    : new twilio.RequestClient(requestOptions);
  return twilio(opts.accountSid, opts.authToken, { httpClient });
}
