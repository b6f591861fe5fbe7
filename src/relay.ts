import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { hostname } from 'node:os';
import type { AddressInfo } from 'node:net';
import type express from 'express';
import type { RelayConfig } from './config/load.js';
import { bindDestinations, type Destination } from './destinations/destination.js';
import { BUNDLED_TEMPLATES_DIR, loadTemplates } from './destinations/index.js';
import { createSender, type Sender } from './delivery/send.js';
import { DestinationGate } from './delivery/gate.js';
import { createWorker, type Worker } from './delivery/worker.js';
import { RelayError } from './errors.js';
import { createCollectHandler, isCollectPath } from './http/collect.js';
import { createProbeHandler } from './http/probes.js';
import { errorBody, sendJson } from './http/respond.js';
import { createIngest } from './ingest/ingest.js';
import type { Logger } from './log.js';
import { createMetrics, type Metrics } from './metrics.js';
import { createStore } from './store/index.js';
import type { Store } from './store/types.js';
import { TraceRecorder } from './trace/trace.js';
import { createVisitorCookies } from './visitor/cookie.js';
import { indexOf, slice } from './strings.js';

export interface RelayOptions {
  logger: Logger;
  templatesDir?: string;
  now?: () => number;
  /** Overrides of the config's `delivery` tuning; tests shorten the poll so retries come round quickly. */
  worker?: { concurrency?: number; pollMs?: number; reclaimIdleMs?: number };
  /**
   * `server`: node:http serves ingestion, a background worker delivers. `function`: express serves
   * everything (functions-framework wraps it anyway) and delivery runs inside requests.
   */
  host?: 'server' | 'function';
}

/** In function mode a hit that queued a conversion waits this long, at most, for its delivery. */
const IN_REQUEST_DELIVERY_MS = 5_000;

export interface Relay {
  store: Store;
  destinations: Destination[];
  metrics: Metrics;
  traces: TraceRecorder;
  /** Every route but ingestion and the probes, built on first use: express is a fifth of a cold start. */
  app(): Promise<express.Express>;
  worker: Worker;
  listen(port: number): Promise<Server & { port: number }>;
  close(graceMs?: number): Promise<void>;
}

/** Builds the whole relay from a loaded config; nothing here reads env or touches the process. */
export function createRelay(config: RelayConfig, options: RelayOptions): Relay {
  const { logger } = options;
  const now = options.now ?? Date.now;
  const templates = loadTemplates(
    options.templatesDir ?? BUNDLED_TEMPLATES_DIR,
    new Set(config.file.destinations.map((d) => d.template)),
  );
  const destinations = bindDestinations(config.file.destinations, templates, config.configPath, config.secretValues);
  const store = createStore(config.redisUrl, { logMaxEntries: config.file.postbackLog.maxEntries, log: logger, now });
  const metrics = createMetrics(() => store.outbox.backlog());
  const traces = new TraceRecorder();
  const cookies = createVisitorCookies({ ...config.file.cookie, secrets: config.cookieSecrets });
  const ingest = createIngest({
    store, destinations, traces, metrics, logger, now,
    visitorIdForClient: cookies.visitorIdForClient,
    dedupTtlMs: config.file.dedupDays * 86_400_000,
  });
  const sender: Sender = createSender();
  const longestTimeout = Math.max(10_000, ...destinations.map((d) => d.timeoutMs));
  const { delivery } = config.file;
  const worker = createWorker(
    {
      outbox: store.outbox, log: store.deliveryLog, sender, logger, metrics, now,
      destinations: new Map(destinations.map((d) => [d.id, d])),
      gates: new Map(destinations.map((d) => [d.id, new DestinationGate({ ...d.circuitBreaker, maxConcurrency: d.maxConcurrency, now })])),
    },
    {
      consumer: `${hostname()}-${process.pid}`,
      concurrency: options.worker?.concurrency ?? delivery.concurrency,
      pollMs: options.worker?.pollMs ?? delivery.pollMs,
      // Twice the longest postback timeout: a job idle that long belongs to a worker that died.
      reclaimIdleMs:
        options.worker?.reclaimIdleMs ??
        (delivery.reclaimIdleSeconds !== undefined ? delivery.reclaimIdleSeconds * 1000 : 2 * longestTimeout + 5_000),
    },
  );

  const inFunction = options.host === 'function';
  const collect = createCollectHandler({
    ingest, cookies, allowedOrigins: config.file.allowedOrigins, metrics, logger,
    ...(inFunction ? { afterIngest: (hit) => (hit.accepted > 0 ? worker.drain(IN_REQUEST_DELIVERY_MS) : Promise.resolve()) } : {}),
  });
  const probes = createProbeHandler(store);
  let app: Promise<express.Express> | undefined;
  const adminApp = () =>
    (app ??= import('./app.js').then(({ createApp }) =>
      createApp({
        store, metrics, traces, adminToken: config.adminToken, logger, probes,
        drain: (budgetMs) => worker.drain(budgetMs), now,
        ...(inFunction ? { collect } : {}),
      }),
    ));

  /** The node:http handler: ingestion and the probes directly, everything else through express. */
  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const url = req.url ?? '/';
    const q = indexOf(url, '?');
    const path = q < 0 ? url : slice(url, 0, q);
    if (isCollectPath(path)) void collect(req, res);
    else if (!probes(req, res, path)) {
      adminApp().then(
        (express) => express(req, res),
        (err: Error) => {
          logger.error({ err: err.message }, 'app.load_failed');
          sendJson(res, 500, errorBody(new RelayError('RELAY_INTERNAL', 'internal error', 500)));
        },
      );
    }
  };

  let server: Server | undefined;
  return {
    store, destinations, metrics, traces, app: adminApp, worker,
    async listen(port) {
      server = createServer(handle);
      await new Promise<void>((resolve, reject) => {
        server!.once('error', reject);
        server!.listen(port, () => resolve());
      });
      return Object.assign(server, { port: (server.address() as AddressInfo).port });
    },
    async close(graceMs = 8_000) {
      const closed = server
        ? new Promise<void>((resolve) => server!.close(() => resolve()))
        : Promise.resolve();
      server?.closeIdleConnections();
      const { unfinished } = await worker.stop(graceMs);
      if (unfinished > 0) logger.warn({ unfinished }, 'worker.stopped_with_postbacks_in_flight');
      server?.closeAllConnections();
      await closed;
      await sender.destroy();
      await store.close();
    },
  };
}
