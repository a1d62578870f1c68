import { once } from 'node:events';
import { Router, type Response } from 'express';
import { z } from 'zod';
import { parseEventCursor, type EventRow } from '../../db/queries/events';
import { isFinalRunStatus } from '../../db/statuses';
import type { RunStreamMessage, RunStreamSink } from '../../live/run-events-hub';
import type { ApiDeps } from '../app';
import { HttpError } from '../errors';
import { parseOr400 } from '../validation';
import { visibleRun } from './runs';

export const eventsQuery = z.object({ lastEventId: z.string().max(64).optional() }).strict();

/** An event as the stream carries it (CONTRACTS.md): the same fields for every call event, null when not known. */
export function streamEventOf(e: EventRow): Record<string, unknown> {
  const at = e.createdAt.toISOString();
  const d = e.data;
  if (e.type === 'leads.added') return { id: e.id, type: e.type, runId: e.runId, added: d.added ?? null, duplicatesMerged: d.duplicatesMerged ?? null, at };
  if (!e.type.startsWith('call.')) return { id: e.id, type: e.type, runId: e.runId, status: d.status ?? null, at };
  return {
    id: e.id,
    type: e.type,
    runId: e.runId,
    callId: e.callId,
    jobId: d.jobId ?? null,
    leadId: d.leadId ?? null,
    to: d.to ?? null,
    status: d.status ?? null,
    outcome: e.type === 'call.completed' ? (d.outcome ?? null) : null,
    durationSeconds: d.durationSeconds ?? null,
    answeredBy: d.answeredBy ?? null,
    attempt: d.attempt ?? null,
    at,
  };
}

function frameOf(message: RunStreamMessage): string {
  switch (message.kind) {
    case 'ping':
      return ': ping\n\n';
    case 'progress':
      return `event: progress\ndata: ${JSON.stringify(message.run)}\n\n`;
    case 'events':
      // JSON.stringify escapes every newline, so one data line always holds the whole event.
      return message.events.map((e) => `id: ${e.cursor}\nevent: ${e.type}\ndata: ${JSON.stringify(streamEventOf(e))}\n\n`).join('');
  }
}

/** An SSE response as the hub's sink; `event: end` then the close. */
function sseSink(res: Response): RunStreamSink {
  let ended = false;
  const gone = () => ended || res.destroyed || res.writableEnded;
  return {
    send: (message) => void (gone() || res.write(frameOf(message))),
    drained: async () => {
      if (!gone() && res.writableNeedDrain) await Promise.race([once(res, 'drain'), once(res, 'close')]);
    },
    pendingBytes: () => res.writableLength,
    end() {
      if (gone()) return;
      ended = true;
      res.end('event: end\ndata: {}\n\n');
    },
    close() {
      if (gone()) return;
      ended = true;
      res.end();
    },
    gone,
  };
}

/** Where to resume: the Last-Event-ID header (an EventSource reconnecting), else `?lastEventId=`. */
function resumeCursor(header: string | undefined, query: string | undefined): string | null {
  const text = header ?? query;
  if (text === undefined || text === '') return null;
  if (!parseEventCursor(text)) {
    throw new HttpError(400, 'invalid_last_event_id', `Last-Event-ID must be the id of an event of this stream, as sent (got ${JSON.stringify(text.slice(0, 64))})`);
  }
  return text;
}

export function runEventRoutes(deps: ApiDeps) {
  const router = Router();

  router.get('/v1/runs/:runId/events', async (req, res) => {
    const query = parseOr400(eventsQuery, req.query, 'query');
    const cursor = resumeCursor(req.get('last-event-id'), query.lastEventId);
    const run = await visibleRun(deps, res, req.params.runId);
    res.status(200).set({
      'Content-Type': 'text/event-stream; charset=utf-8',
      // no-transform: no proxy may compress or rewrite (and so hold back) the frames.
      'Cache-Control': 'no-cache, no-transform',
      'X-Accel-Buffering': 'no',
    });
    res.flushHeaders();
    res.socket?.setNoDelay(true);
    const sink = sseSink(res);
    // An EventSource that loses the stream reconnects after this many milliseconds.
    res.write('retry: 1000\n\n');
    if (isFinalRunStatus(run.status)) {
      try {
        await deps.runEvents.replay(run.id, cursor, sink);
        sink.send({ kind: 'progress', run });
        sink.end();
      } catch (err) {
        deps.logger.warn({ err: (err as Error).message, runId: run.id }, 'run events: replay failed; closing the stream');
        sink.close();
      }
      return;
    }
    sink.send({ kind: 'progress', run });
    const unfollow = deps.runEvents.follow(run.id, cursor, sink);
    res.on('close', unfollow);
    // A client that left while the run was read has already closed: 'close' will not come again.
    if (sink.gone()) unfollow();
  });

  return router;
}
