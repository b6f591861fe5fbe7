import express, { type NextFunction, type Request, type Response } from 'express';
import helmet from 'helmet';
import { createAdminRouter, type AdminDeps } from './admin/routes.js';
import { RelayError } from './errors.js';
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
  /** Mounted only where express receives every request (Cloud Functions); node:http serves them otherwise. */
  collect?: (req: Request, res: Response) => Promise<void>;
}

/** Wiring only: every route but the ingestion fast path. Never reads env, never listens. */
export function createApp(deps: AppDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  // One proxy hop (Cloud Run's front end), never `true`: X-Forwarded-For beyond it is the client's word.
  app.set('trust proxy', 1);
  if (deps.collect) app.all(['/g/collect', '/data'], deps.collect);
  app.use(helmet());

  app.get('/healthy', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/ready', async (_req, res) => {
    const ok = await deps.store.ping();
    res.status(ok ? 200 : 503).json({ status: ok ? 'ready' : 'store unavailable', store: deps.store.kind });
  });
  app.get('/metrics', async (_req, res) => {
    res.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
  });
  app.use('/admin', createAdminRouter(deps));

  app.use((req, res) => {
    res.status(404).json({ error: { code: 'RELAY_NOT_FOUND', message: `no route for ${req.method} ${req.path}` } });
  });
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const known = err instanceof RelayError;
    const parserStatus = (err as { status?: number }).status;
    if (!known) deps.logger.error({ err: (err as Error)?.message }, 'app.unexpected_error');
    const status = known ? err.status : parserStatus && parserStatus < 500 ? parserStatus : 500;
    const code = known ? err.code : status < 500 ? 'RELAY_BAD_REQUEST' : 'RELAY_INTERNAL';
    const message = known ? err.message : status < 500 ? (err as Error).message : 'internal error';
    res.status(status).json({ error: { code, message } });
  });
  return app;
}
