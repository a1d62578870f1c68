import type { Config } from '../config';
import { inTransaction, type Database } from '../db/client';
import { endQueuedJobs } from '../db/queries/jobs';
import { changeRunStatus, completeRunIfDone, runStatus } from '../db/queries/runs';
import type { Logger } from '../logger';
import { LIVE_RUN_STATUSES } from '../db/statuses';
import { resolvePublicHost } from '../public-host';
import { FailureType, nonRetryable } from '../workflows/failures';
import { allowsTransition, RUN_TRANSITIONS, type RunTransition, type RunTransitionResult } from '../workflows/messages';

export interface RunLifecycleDeps {
  database: Database;
  logger: Logger;
  config: Pick<Config, 'publicHost' | 'env' | 'port' | 'queuedJobsEndBatch'>;
}

export function createRunLifecycleActivities({ database, logger, config }: RunLifecycleDeps) {
  const runNotFound = (runId: string) => nonRetryable(FailureType.RunNotFound, `run ${runId} does not exist`);

  return {
    /**
     * Fail fast: without a public host no status callback could reach us, so no call may be placed.
     * The run is marked failed with a clear last_error and the workflow ends failed.
     */
    async startRun({ runId }: { runId: string }): Promise<{ publicBaseUrl: string }> {
      const host = resolvePublicHost(config);
      if (!host.ok) {
        const failed = await changeRunStatus(database.pool, runId, { ...RUN_TRANSITIONS.fail, lastError: host.error, finished: true });
        if (!failed && (await runStatus(database.pool, runId)) === null) throw runNotFound(runId);
        logger.error({ runId, lastError: host.error }, `run failed: ${host.error}`);
        throw nonRetryable(FailureType.NoPublicHost, host.error);
      }
      if (host.warning) logger.warn({ runId }, host.warning);
      // A pause or cancel may have come first: then the run keeps that status.
      await changeRunStatus(database.pool, runId, { ...RUN_TRANSITIONS.start, started: true });
      const status = await runStatus(database.pool, runId);
      if (status === null) throw runNotFound(runId);
      if (!(LIVE_RUN_STATUSES as readonly string[]).includes(status)) {
        throw nonRetryable(FailureType.RunNotLive, `run ${runId} is ${status} in Postgres; it will not start`);
      }
      logger.info({ runId, public_host: host.baseUrl, source: host.source }, `run started with public_host=${host.baseUrl}`);
      return { publicBaseUrl: host.baseUrl };
    },

    /**
     * Pause, resume or cancel in Postgres. A cancel then ends every queued job, in batches after its
     * status commits (claims take nothing from a canceling run). A retry of this activity after its
     * change committed finds the run where it was to go: that is not refused, and a cancel ends
     * what is still queued.
     */
    async transitionRun({ runId, action }: { runId: string; action: RunTransition }): Promise<RunTransitionResult> {
      const { to } = RUN_TRANSITIONS[action];
      // Resuming clears the reason a run was paused for (e.g. a carrier refusal).
      const changed = await changeRunStatus(database.pool, runId, { ...RUN_TRANSITIONS[action], ...(action === 'resume' ? { lastError: null } : {}) });
      if (!changed) {
        const current = await runStatus(database.pool, runId);
        if (!current) throw runNotFound(runId);
        if (current !== to) throw nonRetryable(FailureType.InvalidTransition, `cannot ${action} a run that is ${current}`);
      }
      if (action === 'cancel') {
        const canceledJobs = await endQueuedJobs(database.pool, runId, 'canceled', config.queuedJobsEndBatch);
        logger.info({ runId, canceledJobs }, 'run canceling: queued jobs canceled, live calls finish');
      } else {
        logger.info({ runId, status: to }, `run ${to}`);
      }
      return { runId, status: to };
    },

    /**
     * Marks the run finished. A run to complete is not while it has open jobs: leads added after its
     * last pass (src/domain/runs/add-leads.ts) answer `finished: false`, and the workflow dials on.
     * A retry after the change committed finds it done.
     */
    async finishRun({ runId, status }: { runId: string; status: 'completed' | 'canceled' }): Promise<{ finished: boolean }> {
      if (status === 'completed') {
        const completed = await inTransaction(database, (client) => completeRunIfDone(client, runId, RUN_TRANSITIONS.complete));
        // Not completed and still completable: it has open jobs (or is kept open). Otherwise it is done already (a retry) or gone.
        const current = completed ? null : await runStatus(database.pool, runId);
        if (current !== null && allowsTransition(current, 'complete')) {
          logger.info({ runId }, 'run not completed: it has leads left (added since its last pass) or is kept open');
          return { finished: false };
        }
      } else {
        await changeRunStatus(database.pool, runId, { ...RUN_TRANSITIONS.endCanceled, finished: true });
      }
      logger.info({ runId, status }, `run ${status}`);
      return { finished: true };
    },
  };
}
