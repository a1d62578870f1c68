/**
 * The CLI's only way to Outdial: HTTP to the API with a bearer key. Every failure becomes a CliError
 * whose message is one line a person can act on (the API's own error message, or why it could not
 * be reached).
 */

/** What the CLI prints (prefixed `outdial: `) before it exits with `exitCode`. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

/** The API answered with an error: its status and the `{ error: { code, message } }` of src/api/errors.ts. */
export class ApiError extends CliError {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(`${message} (HTTP ${status} ${code})`);
  }
}

/** The API could not be reached at all (refused, no such host, reset): worth retrying while watching. */
export class ApiUnreachable extends CliError {}

export const DEFAULT_API_URL = 'http://127.0.0.1:3000';

export interface ApiSettings {
  apiUrl: string;
  key: string | undefined;
}

export type Query = Record<string, string | number | boolean | undefined>;

export interface RequestOptions {
  query?: Query;
  /** A JSON body. */
  json?: unknown;
  /** A raw body (a stream) with its content type. */
  body?: { stream: ReadableStream<Uint8Array>; contentType: string };
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

/** Node's fetch says only "fetch failed"; the cause (ECONNREFUSED, ENOTFOUND…) is what a person needs. */
function networkProblem(err: unknown): string {
  let cause: unknown = err;
  while (cause && typeof cause === 'object' && 'cause' in cause && (cause as { cause?: unknown }).cause) cause = (cause as { cause: unknown }).cause;
  const code = (cause as { code?: unknown })?.code;
  if (code === 'ECONNREFUSED') return 'connection refused';
  if (typeof code === 'string') return code;
  return (cause as Error)?.message ?? String(cause);
}

export class ApiClient {
  readonly apiUrl: string;

  constructor(private readonly settings: ApiSettings) {
    this.apiUrl = settings.apiUrl.replace(/\/+$/, '');
  }

  private url(path: string, query: Query = {}): string {
    const url = new URL(this.apiUrl + path);
    for (const [k, v] of Object.entries(query)) if (v !== undefined) url.searchParams.set(k, String(v));
    return url.toString();
  }

  /** The response to a request, if it is a 2xx; otherwise the API's error (or the network's) as a CliError. */
  async send(method: string, path: string, opts: RequestOptions = {}): Promise<Response> {
    if (!this.settings.key) throw new CliError('no API key: pass --key or set OUTDIAL_API_KEY (npm start prints one)');
    const headers: Record<string, string> = { authorization: `Bearer ${this.settings.key}`, ...opts.headers };
    let body: RequestInit['body'];
    if (opts.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(opts.json);
    } else if (opts.body) {
      headers['content-type'] = opts.body.contentType;
      body = opts.body.stream;
    }
    let res: Response;
    try {
      res = await fetch(this.url(path, opts.query), {
        method,
        headers,
        ...(body === undefined ? {} : { body }),
        ...(opts.body ? { duplex: 'half' } : {}),
        ...(opts.signal ? { signal: opts.signal } : {}),
      } as RequestInit);
    } catch (err) {
      if ((err as Error).name === 'AbortError') throw err;
      throw new ApiUnreachable(`cannot reach the API at ${this.apiUrl} (${networkProblem(err)}); is it running? Set --api-url or OUTDIAL_API_URL`);
    }
    if (!res.ok) throw await errorOf(res, method, path);
    return res;
  }

  /** A JSON request answered with JSON. */
  async request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    const res = await this.send(method, path, opts);
    const text = await res.text();
    try {
      return (text ? JSON.parse(text) : {}) as T;
    } catch {
      throw new CliError(`${method} ${path}: the API answered HTTP ${res.status} with a body that is not JSON`);
    }
  }

  /**
   * Every item of a cursor-paginated list (`{ data, nextCursor }`), page after page, until `max`
   * items (or all of them when max is undefined).
   */
  async list<T>(path: string, query: Query, max: number | undefined): Promise<T[]> {
    const items: T[] = [];
    let cursor: string | undefined;
    do {
      const pageSize = Math.min(200, max === undefined ? 200 : max - items.length);
      const page = await this.request<{ data: T[]; nextCursor: string | null }>('GET', path, { query: { ...query, limit: pageSize, cursor } });
      items.push(...page.data);
      cursor = page.nextCursor ?? undefined;
    } while (cursor && (max === undefined || items.length < max));
    return items;
  }
}

async function errorOf(res: Response, method: string, path: string): Promise<CliError> {
  const text = await res.text().catch(() => '');
  try {
    const { error } = JSON.parse(text) as { error?: { code?: string; message?: string } };
    if (error?.message) return new ApiError(res.status, error.code ?? 'error', error.message);
  } catch {
    // Not the API's JSON (a proxy's page, say): say what came back.
  }
  return new ApiError(res.status, 'error', `${method} ${path} failed`);
}
