import { ApplicationFailure } from '@temporalio/activity';
import type { Config } from '../config';
import { inTransaction, type Database } from '../db/client';
import type { Logger } from '../logger';
import { LIVE_RUN_STATUSES } from '../db/statuses';
import { resolvePublicHost } from '../public-host';
import type { RunTransition, RunTransitionResult } from '../workflows/messages';

export interface RunLifecycleDeps {
  database: Database;
  logger: Logger;
  config: Pick<Config, 'publicHost' | 'env' | 'port'>;
}

export function createRunLifecycleActivities({ database, logger, config }: RunLifecycleDeps) {
  const runNotFound = (runId: string) => ApplicationFailure.nonRetryable(`run ${runId} does not exist`, 'RunNotFound');

  return {
    /**
     * Fail fast: without a public host no status callback could reach us, so no call may be placed.
     * The run is marked failed with a clear last_error and the workflow ends failed.
     */
    async startRun({ runId }: { runId: string }): Promise<{ publicBaseUrl: string }> {
      const host = resolvePublicHost(config);
      if (!host.ok) {
        const r = await database.pool.query(
          `UPDATE bulk_call_runs SET status = 'failed', last_error = $2, finished_at = now(), updated_at = now()
            WHERE id = $1 RETURNING id`,
          [runId, host.error],
        );
        if (r.rowCount === 0) throw runNotFound(runId);
        logger.error({ runId, lastError: host.error }, `run failed: ${host.error}`);
        throw ApplicationFailure.nonRetryable(host.error, 'NoPublicHost');
      }
      if (host.warning) logger.warn({ runId }, host.warning);
      const r = await database.pool.query(
        `UPDATE bulk_call_runs SET status = CASE WHEN status = 'pending' THEN 'running' ELSE status END,
                started_at = COALESCE(started_at, now()), updated_at = now()
          WHERE id = $1 RETURNING status`,
        [runId],
      );
      if (r.rowCount === 0) throw runNotFound(runId);
      const status = (r.rows[0] as { status: string }).status;
      if (!(LIVE_RUN_STATUSES as readonly string[]).includes(status)) {
        throw ApplicationFailure.nonRetryable(`run ${runId} is ${status} in Postgres; it will not start`, 'RunNotLive');
      }
      logger.info({ runId, public_host: host.baseUrl, source: host.source }, `run started with public_host=${host.baseUrl}`);
      return { publicBaseUrl: host.baseUrl };
    },

    /** Pause, resume or cancel in Postgres; cancel also ends every queued job, in the same transaction. */
    async transitionRun({ runId, action }: { runId: string; action: RunTransition }): Promise<RunTransitionResult> {
      const [from, to] = {
        pause: [['pending', 'running'], 'paused'],
        resume: [['paused'], 'running'],
        cancel: [['pending', 'running', 'paused'], 'canceling'],
      }[action] as [string[], string];
      return inTransaction(database, async (client) => {
        const r = await client.query<{ status: string }>(
          // Resuming clears the reason a run was paused for (e.g. a carrier refusal).
          `UPDATE bulk_call_runs SET status = $3, last_error = CASE WHEN $3 = 'running' THEN NULL ELSE last_error END, updated_at = now()
            WHERE id = $1 AND status = ANY($2) RETURNING status`,
          [runId, from, to],
        );
        if (r.rowCount === 0) {
          const current = await client.query<{ status: string }>('SELECT status FROM bulk_call_runs WHERE id = $1', [runId]);
          if (!current.rows[0]) throw runNotFound(runId);
          throw ApplicationFailure.nonRetryable(`cannot ${action} a run that is ${current.rows[0].status}`, 'InvalidTransition');
        }
        if (action === 'cancel') {
          const canceled = await client.query(
            `UPDATE outbound_call_jobs SET status = 'canceled', finished_at = now(), updated_at = now()
              WHERE run_id = $1 AND status = 'queued'`,
            [runId],
          );
          logger.info({ runId, canceledJobs: canceled.rowCount }, 'run canceling: queued jobs canceled, live calls finish');
        } else {
          logger.info({ runId, status: to }, `run ${to}`);
        }
        return { runId, status: to };
      });
    },

    async finishRun({ runId, status }: { runId: string; status: 'completed' | 'canceled' }): Promise<void> {
      await database.pool.query(
        `UPDATE bulk_call_runs SET status = $2, finished_at = now(), updated_at = now()
          WHERE id = $1 AND status IN ('running', 'canceling', 'paused')`,
        [runId, status],
      );
      logger.info({ runId, status }, `run ${status}`);
    },
  };
}
