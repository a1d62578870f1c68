import express, { type RequestHandler } from 'express';
import helmet from 'helmet';
import { pinoHttp } from 'pino-http';
import type { Config } from '../config';
import type { DomainDeps } from '../domain/deps';
import { rateLimitPerKey, requireKey } from './auth';
import { errorHandler, HttpError, unknownRoute } from './errors';
import { CALLBACK_PATHS, callbackRequestLog, requestLogLevel } from './request-log';
import { businessRoutes } from './routes/businesses';
import { callRoutes } from './routes/calls';
import { doNotCallRoutes } from './routes/do-not-call';
import { healthRoutes } from './routes/health';
import { heldCallRoutes } from './routes/held-calls';
import { metricsRoutes } from './routes/metrics';
import { recordHttpMetrics } from '../metrics/http';
import { listRoutes } from './routes/lists';
import { runEventRoutes } from './routes/run-events';
import { runRoutes } from './routes/runs';
import { runPageRoutes } from './pages/run-page';
import type { RunEventsHub } from '../live/run-events-hub';
import { twilioStatusRoutes } from './routes/twilio-status';
import { webhookRoutes } from './routes/webhooks';
import { bodyProblem, MAX_JSON_DEPTH } from './validation';
import { openApiRoutes } from './openapi';

export interface ApiDeps extends DomainDeps {
  config: DomainDeps['config'] & Pick<Config, 'twilio' | 'adminKeys' | 'apiRateLimitPerMinute' | 'metrics' | 'temporalUiUrl' | 'callbackReplayMax'>;
  /** Live run events for the streams (one LISTEN per API process). */
  runEvents: RunEventsHub;
}

/** Headers that carry secrets: never written to a log line. */
export const REDACTED_HEADERS = ['req.headers.authorization', 'req.headers["x-twilio-signature"]', 'req.headers.cookie', 'req.headers["idempotency-key"]'];

/** A body on a JSON route must be JSON. The routes that also take CSV (a run's leads, new or added) stream it themselves. */
const CSV_ROUTE = /^\/(businesses\/[^/]+\/runs|runs\/[^/]+\/leads)\/?$/;

const jsonOnly: RequestHandler = (req, _res, next) => {
  const hasBody = Number(req.get('content-length') ?? 0) > 0 || req.get('transfer-encoding') !== undefined;
  if (hasBody && req.method === 'POST' && CSV_ROUTE.test(req.path) && req.is('text/csv')) return next();
  if (hasBody && !req.is('application/json')) {
    next(new HttpError(415, 'unsupported_media_type', `send the body as application/json (got ${req.get('content-type') ?? 'no content type'})`));
    return;
  }
  next();
};

/** Text Postgres cannot store, and absurd nesting, are refused here, naming where, before any route sees them. */
const storableBody: RequestHandler = (req, _res, next) => {
  const problem = bodyProblem(req.body);
  if (!problem) return next();
  next(
    problem.code === 'too_deep'
      ? new HttpError(400, 'too_deep', `${problem.path}: the body nests deeper than ${MAX_JSON_DEPTH} levels`)
      : new HttpError(400, 'invalid_text', `${problem.path}: text must not contain NUL characters or unpaired UTF-16 surrogates`),
  );
};

/** The Express app: stateless, so any number of API processes can serve it. */
export function createApp(deps: ApiDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use(recordHttpMetrics);
  // The carrier's callbacks, a few per call, first: a lighter request log, and none of the
  // browser-facing headers (Twilio reads none of them).
  app.use([...CALLBACK_PATHS], callbackRequestLog(deps.logger));
  app.use(twilioStatusRoutes(deps));
  app.use(helmet());
  app.use(
    pinoHttp({
      logger: deps.logger,
      redact: { paths: REDACTED_HEADERS, censor: '[redacted]' },
      customProps: (_req, res) => {
        const principal = (res as unknown as { locals?: { principal?: { id: string } } }).locals?.principal;
        return principal ? { principal: principal.id } : {};
      },
      customLogLevel: requestLogLevel,
    }),
  );
  app.use(healthRoutes(deps));
  if (deps.config.metrics.apiEnabled) app.use(metricsRoutes(deps));
  app.use(openApiRoutes());
  app.use(runPageRoutes(deps));
  app.use('/v1', jsonOnly, express.json({ limit: '20mb' }), storableBody, requireKey(deps), rateLimitPerKey(deps.config.apiRateLimitPerMinute));
  app.use(businessRoutes(deps), runRoutes(deps), callRoutes(deps), doNotCallRoutes(deps));
  app.use(listRoutes(deps), runEventRoutes(deps), webhookRoutes(deps));
  app.use(heldCallRoutes(deps));
  app.use(unknownRoute);
  app.use(errorHandler(deps.logger));
  return app;
}
