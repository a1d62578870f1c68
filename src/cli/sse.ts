import { ApiError, ApiUnreachable, CliError, type ApiClient } from './api-client';

/** One Server-Sent Events frame: its `event` (default "message"), `id` if it had one, and its data lines joined. */
export interface SseFrame {
  event: string;
  id: string | undefined;
  data: string;
}

/**
 * Frames of an SSE body as they arrive (the WHATWG rules: lines end in CR, LF or CRLF; `field: value`
 * with one optional space; `:` starts a comment; a blank line ends a frame). Unlike a browser, a frame
 * with an event name and no data is still delivered: the server's `end` may carry none.
 */
export async function* sseFrames(body: ReadableStream<Uint8Array>): AsyncGenerator<SseFrame> {
  const decoder = new TextDecoder();
  let buffer = '';
  let event = '';
  let id: string | undefined;
  let data: string[] = [];
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true });
    for (;;) {
      const end = buffer.search(/\r\n|\r|\n/);
      // A lone CR at the end may be the first half of a CRLF still to come.
      if (end < 0 || (end === buffer.length - 1 && buffer.endsWith('\r'))) break;
      const line = buffer.slice(0, end);
      buffer = buffer.slice(end + (buffer.startsWith('\r\n', end) ? 2 : 1));
      if (line === '') {
        if (event || data.length > 0) yield { event: event || 'message', id, data: data.join('\n') };
        event = '';
        id = undefined;
        data = [];
        continue;
      }
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'event') event = value;
      else if (field === 'data') data.push(value);
      else if (field === 'id' && !value.includes('\0')) id = value;
    }
  }
}

export interface FollowOptions {
  /** Give up after this long without a connection (the API down, the network gone). */
  giveUpAfterMs: number;
  /** Told of each reconnection attempt (for a line on stderr). */
  onReconnect?: (reason: string) => void;
}

/**
 * The frames of `path` across dropped connections: when the stream breaks (or ends without an `end`
 * frame and `isFinished` does not hold), reconnects with `Last-Event-ID` set to the last id seen, so the
 * server resumes after it. Stops after an `end` frame, or when the stream closes once `isFinished()`.
 * A 4xx answer (a 404 run, a bad key) is not retried.
 */
export async function* followEvents(client: ApiClient, path: string, isFinished: () => boolean, opts: FollowOptions): AsyncGenerator<SseFrame> {
  let lastEventId: string | undefined;
  let failingSince: number | undefined;
  let delayMs = 250;
  for (;;) {
    let problem: string;
    try {
      const res = await client.send('GET', path, {
        headers: { accept: 'text/event-stream', ...(lastEventId ? { 'last-event-id': lastEventId } : {}) },
      });
      if (!res.body) throw new CliError(`GET ${path}: the API sent no event stream`);
      for await (const frame of sseFrames(res.body)) {
        // A stream that delivers is a good connection; one that closes at once keeps backing off.
        failingSince = undefined;
        delayMs = 250;
        if (frame.id !== undefined) lastEventId = frame.id;
        yield frame;
        if (frame.event === 'end') return;
      }
      if (isFinished()) return;
      problem = 'the event stream closed';
    } catch (err) {
      // A 4xx (no such run, a bad key) will not go away; a 5xx or an unreachable API may (a restart).
      if (err instanceof ApiError ? err.status < 500 : err instanceof CliError && !(err instanceof ApiUnreachable)) throw err;
      problem = err instanceof Error ? err.message : String(err);
    }
    failingSince ??= Date.now();
    if (Date.now() - failingSince > opts.giveUpAfterMs) {
      throw new CliError(`lost the event stream of ${path} for over ${Math.round(opts.giveUpAfterMs / 1000)} s: ${problem}`);
    }
    opts.onReconnect?.(problem);
    await new Promise((resolve) => setTimeout(resolve, delayMs));
    delayMs = Math.min(delayMs * 2, 5_000);
  }
}
