/** One Server-Sent Events frame as a client sees it. */
export interface SseFrame {
  event: string;
  id: string | null;
  data: string;
}

/**
 * A small SSE client over fetch's body stream (EventSource cannot send an Authorization header):
 * it keeps every frame and comment, and never reconnects on its own, so a test sees exactly one
 * connection's stream.
 */
export class SseClient {
  readonly frames: SseFrame[] = [];
  readonly comments: string[] = [];
  /** Resolves when the server closes the stream (or the client does). */
  readonly closed: Promise<void>;
  private readonly waiters = new Set<() => void>();
  private done = false;

  private constructor(
    readonly status: number,
    private readonly abort: AbortController,
    body: ReadableStream<Uint8Array>,
  ) {
    this.closed = this.read(body);
  }

  /** Connects; a non-200 answer is returned as its status and parsed JSON body instead. */
  static async open(url: string, headers: Record<string, string>): Promise<SseClient | { status: number; contentType: string | null; body: unknown }> {
    const abort = new AbortController();
    const res = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: abort.signal });
    if (res.status !== 200 || !res.body) {
      const text = await res.text();
      return { status: res.status, contentType: res.headers.get('content-type'), body: text ? JSON.parse(text) : null };
    }
    if (!res.headers.get('content-type')?.startsWith('text/event-stream')) throw new Error(`not an event stream: ${res.headers.get('content-type')}`);
    return new SseClient(res.status, abort, res.body);
  }

  get ended(): boolean {
    return this.done;
  }

  /** Frames of these event types (prefix match: 'call.' gives every call event). */
  events(prefix: string): SseFrame[] {
    return this.frames.filter((f) => f.event.startsWith(prefix));
  }

  /** Resolves once `check` holds over what has arrived (checked on every frame), or rejects after `timeoutMs`. */
  until(check: (client: SseClient) => boolean, timeoutMs = 30_000): Promise<void> {
    if (check(this)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new Error(`SSE condition not met in time; frames: ${this.frames.map((f) => f.event).join(',')}`));
      }, timeoutMs);
      const waiter = () => {
        if (!check(this)) return;
        clearTimeout(timer);
        this.waiters.delete(waiter);
        resolve();
      };
      this.waiters.add(waiter);
    });
  }

  close(): Promise<void> {
    this.abort.abort();
    return this.closed;
  }

  private notify() {
    for (const waiter of [...this.waiters]) waiter();
  }

  private async read(body: ReadableStream<Uint8Array>): Promise<void> {
    const reader = body.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          this.parseBlock(buffer.slice(0, end));
          buffer = buffer.slice(end + 2);
        }
        this.notify();
      }
    } catch {
      // Aborted by close(): the frames so far are what this connection saw.
    } finally {
      this.done = true;
      this.notify();
    }
  }

  private parseBlock(block: string) {
    const frame: SseFrame = { event: 'message', id: null, data: '' };
    let fields = 0;
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) {
        this.comments.push(line.slice(1).trim());
        continue;
      }
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'event') frame.event = value;
      else if (field === 'id') frame.id = value;
      else if (field === 'data') frame.data = frame.data ? `${frame.data}\n${value}` : value;
      else continue;
      fields++;
    }
    if (fields > 0 && (frame.data !== '' || frame.event !== 'message')) this.frames.push(frame);
  }
}
