import type { RunView } from '../domain/runs/run-view';
import type { ApiClient } from './api-client';
import { progressOf, runProgressView, type ProgressOptions } from './progress';
import { followEvents } from './sse';

/** A run's final statuses and the CLI's exit code for each: 0 only for a run that completed. */
export const EXIT_CODE_OF_FINAL_STATUS: Record<string, number> = { completed: 0, failed: 1, canceled: 2 };

export const DEFAULT_GIVE_UP_AFTER_SECONDS = 60;

export interface WatchOptions {
  progress: ProgressOptions;
  giveUpAfterSeconds: number;
}

/** A progress frame's data: the run view (bare, or as `{ run }` like GET /v1/runs/:id). */
function runOfFrame(data: string): RunView {
  const parsed = JSON.parse(data) as RunView | { run: RunView };
  return 'run' in parsed ? parsed.run : parsed;
}

/**
 * Follows a run on its event stream until it ends, showing its progress; resolves with the run as the
 * API shows it at the end.
 */
export async function watchRun(client: ApiClient, runId: string, opts: WatchOptions): Promise<RunView> {
  const view = runProgressView(runId, opts.progress);
  // Ctrl-C stops the watching, not the run: the bars are put away (the cursor shown again) first.
  const interrupted = () => {
    view.stop();
    process.stderr.write(`stopped watching; run ${runId} goes on (outdial watch ${runId} to follow it again)\n`);
    process.exit(130);
  };
  process.once('SIGINT', interrupted);
  let final: string | undefined;
  try {
    const frames = followEvents(client, `/v1/runs/${encodeURIComponent(runId)}/events`, () => final !== undefined, {
      giveUpAfterMs: opts.giveUpAfterSeconds * 1000,
      onReconnect: (reason) => view.note(`reconnecting to the event stream of run ${runId} (${reason})`),
    });
    for await (const frame of frames) {
      if (frame.event === 'progress') {
        const run = runOfFrame(frame.data);
        view.update(progressOf(run));
        if (run.status in EXIT_CODE_OF_FINAL_STATUS) final = run.status;
      } else if (frame.event.startsWith('run.')) {
        const status = (JSON.parse(frame.data) as { status?: string }).status;
        if (status && status in EXIT_CODE_OF_FINAL_STATUS) final = status;
      }
    }
    // The stream ends with the run; its view now is the one to report (and the last progress shown).
    const { run } = await client.request<{ run: RunView }>('GET', `/v1/runs/${encodeURIComponent(runId)}`);
    view.update(progressOf(run));
    return run;
  } finally {
    process.off('SIGINT', interrupted);
    view.stop();
  }
}

/** One line saying how a run ended. */
export function runSummary(run: RunView): string {
  const p = progressOf(run);
  const outcomes = Object.entries(run.outcomes)
    .filter(([, n]) => n > 0)
    .map(([o, n]) => `${o} ${n}`)
    .join(', ');
  return `run ${run.id} ${run.status}: ${p.total} leads, ${p.completed} completed, ${p.failed} failed, ${p.skipped} skipped${outcomes ? ` (calls: ${outcomes})` : ''}${run.lastError ? `; ${run.lastError}` : ''}`;
}
