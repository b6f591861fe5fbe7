import express, { type NextFunction, type Request, type Response } from 'express';
import helmet from 'helmet';
import { createAdminRouter, type AdminDeps } from './admin/routes.js';
import { RelayError } from './errors.js';
import type { ProbeHandler } from './http/probes.js';
import { errorBody } from './http/respond.js';
import type { Logger } from './log.js';
import type { Metrics } from './metrics.js';
import type { Store } from './store/types.js';
import type { TraceRecorder } from './trace/trace.js';

export interface AppDeps extends AdminDeps {
  store: Store;
  metrics: Metrics;
  traces: TraceRecorder;
  adminToken: string | undefined;
  logger: Logger;
  /** Answered by node:http itself on Cloud Run; here for Cloud Functions, where express has every request. */
  probes: ProbeHandler;
  /** Mounted only where express receives every request (Cloud Functions); node:http serves them otherwise. */
  collect?: (req: Request, res: Response) => void | Promise<void>;
}

/** Errors the relay raised keep their code; a body parser's 4xx keeps its status; anything else is a 500. */
function asRelayError(err: unknown): RelayError {
  if (err instanceof RelayError) return err;
  const status = (err as { status?: number }).status;
  if (status !== undefined && status >= 400 && status < 500) {
    return new RelayError('RELAY_BAD_REQUEST', (err as Error).message, status);
  }
  return new RelayError('RELAY_INTERNAL', 'internal error', 500);
}

/** Wiring only: every route but the ingestion fast path. Never reads env, never listens. */
export function createApp(deps: AppDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  // One proxy hop (Cloud Run's front end), never `true`: X-Forwarded-For beyond it is the client's word.
  app.set('trust proxy', 1);
  if (deps.collect) app.all(['/g/collect', '/data'], deps.collect);
  app.use(helmet());

  app.get(['/healthy', '/ready'], (req, res) => deps.probes(req, res, req.path));
  app.get('/metrics', async (_req, res) => {
    res.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
  });
  app.use('/admin', createAdminRouter(deps));

  app.use((req) => {
    throw new RelayError('RELAY_NOT_FOUND', `no route for ${req.method} ${req.path}`, 404);
  });
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const error = asRelayError(err);
    if (error.status === 500) deps.logger.error({ err: (err as Error)?.message }, 'app.unexpected_error');
    deps.metrics.rejectedRequests(error.code).inc();
    if (error.status === 503) res.setHeader('retry-after', '1');
    res.status(error.status).json(errorBody(error));
  });
  return app;
}
