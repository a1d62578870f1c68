import cliProgress from 'cli-progress';
import type { RunView } from '../domain/runs/run-view';

/**
 * Progress on stderr (stdout stays for results): live bars on a terminal; elsewhere (a pipe, a log, a
 * test) plain `key=value` lines, one per change, at most one per interval, the last state always shown.
 */

export const DEFAULT_PROGRESS_INTERVAL_MS = 500;

export interface ProgressOptions {
  /** Bars (a terminal) or lines. */
  tty: boolean;
  /** The least time between two plain lines. */
  intervalMs: number;
  stream: NodeJS.WriteStream;
}

export function progressOptions(intervalMs: number): ProgressOptions {
  return { tty: Boolean(process.stderr.isTTY && process.stdout.isTTY), intervalMs, stream: process.stderr };
}

/** Lines at most once per interval; a line held back is written when the interval is up, or on flush. */
class ThrottledLines {
  private last = '';
  private lastAt = 0;
  private pending: string | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly opts: ProgressOptions) {}

  write(line: string) {
    if (line === (this.pending ?? this.last)) return;
    this.pending = line;
    const wait = this.lastAt + this.opts.intervalMs - Date.now();
    if (wait <= 0) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), wait);
  }

  flush() {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pending === undefined) return;
    this.opts.stream.write(`${this.pending}\n`);
    this.last = this.pending;
    this.lastAt = Date.now();
    this.pending = undefined;
  }
}

/** Where a run stands, as the watch shows it. */
export interface RunProgress {
  status: string;
  total: number;
  /** Leads whose call was placed: dialing now, or ended completed or failed. */
  dialed: number;
  completed: number;
  failed: number;
  /** Leads that will not be called: canceled, on a do-not-call list, or past the run's stop time. */
  skipped: number;
  activeCalls: number;
  limit: number | null;
}

export function progressOf(run: RunView): RunProgress {
  const { jobs } = run;
  return {
    status: run.status,
    total: jobs.total,
    dialed: jobs.dialing + jobs.completed + jobs.failed,
    completed: jobs.completed,
    failed: jobs.failed,
    skipped: jobs.canceled + jobs.skipped_dnc + jobs.expired,
    activeCalls: run.business.activeCalls,
    limit: run.business.maxConcurrentCalls,
  };
}

export interface RunProgressView {
  update(progress: RunProgress): void;
  /** A line of news (a reconnection) that does not disturb the bars. */
  note(line: string): void;
  stop(): void;
}

export function runProgressView(runId: string, opts: ProgressOptions): RunProgressView {
  if (!opts.tty) {
    const lines = new ThrottledLines(opts);
    return {
      update: (p) =>
        lines.write(
          `progress run=${runId} status=${p.status} total=${p.total} dialed=${p.dialed} completed=${p.completed} failed=${p.failed} skipped=${p.skipped} active=${p.activeCalls} limit=${p.limit ?? ''}`,
        ),
      note: (line) => {
        lines.flush();
        opts.stream.write(`${line}\n`);
      },
      stop: () => lines.flush(),
    };
  }
  const multi = new cliProgress.MultiBar(
    { stream: opts.stream, format: ' {label} {bar} {value}/{total} {note}', hideCursor: true, clearOnComplete: false, barsize: 30, fps: 10 },
    cliProgress.Presets.shades_classic,
  );
  const bar = (label: string) => multi.create(1, 0, { label: label.padEnd(12), note: '' });
  const dialed = bar('dialed');
  const completed = bar('completed');
  const failed = bar('failed');
  const active = bar('active calls');
  return {
    update: (p) => {
      const total = Math.max(p.total, 1);
      dialed.setTotal(total);
      dialed.update(p.dialed, { note: `run ${p.status}` });
      completed.setTotal(total);
      completed.update(p.completed);
      failed.setTotal(total);
      failed.update(p.failed, { note: p.skipped > 0 ? `${p.skipped} skipped` : '' });
      active.setTotal(Math.max(p.limit ?? p.activeCalls, 1));
      active.update(p.activeCalls, { note: p.limit === null ? '' : `limit ${p.limit}` });
    },
    note: (line) => multi.log(`${line}\n`),
    stop: () => multi.stop(),
  };
}

export interface UploadProgressView {
  sent(bytes: number): void;
  stop(): void;
}

/** Bytes of an upload handed to the connection, out of the file's size. */
export function uploadProgressView(file: string, totalBytes: number, opts: ProgressOptions): UploadProgressView {
  if (!opts.tty) {
    const lines = new ThrottledLines(opts);
    return {
      sent: (bytes) => lines.write(`upload file=${file} sent=${bytes} total=${totalBytes}`),
      stop: () => lines.flush(),
    };
  }
  const bar = new cliProgress.SingleBar(
    { stream: opts.stream, format: ' upload {bar} {percentage}% {value}/{total} bytes', hideCursor: true, barsize: 30, fps: 10 },
    cliProgress.Presets.shades_classic,
  );
  bar.start(Math.max(totalBytes, 1), 0);
  return {
    sent: (bytes) => bar.update(bytes),
    stop: () => bar.stop(),
  };
}
