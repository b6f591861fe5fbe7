import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { parseDataBody, parseDataQuery } from '../clients/data.js';
import { parseGa4Hit } from '../clients/ga4.js';
import { BadRequestError, RelayError } from '../errors.js';
import type { RelayEvent } from '../events/event.js';
import type { BrowserFacts, ClientName, HitResult, Ingest } from '../ingest/ingest.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { readCookie, type VisitorCookies } from '../visitor/cookie.js';
import { bodyAnnounced, readBody } from './body.js';
import { createReplyBurst, type Reply } from './burst.js';
import { answerPreflight, createOriginPolicy } from './cors.js';
import { errorBody, sendJson, sendNoContent, sendPixel } from './respond.js';
import { indexOf, slice } from '../strings.js';

/** The ingestion routes: GA4's, and the data client's (JSON body, or a GET pixel). */
const COLLECT_PATHS = ['/g/collect', '/data'] as const;

/**
 * Compared rather than looked up in a Set: each request's path is a string of its own, and hashing
 * it costs more than two comparisons (about 25 against 50 ns a request, the path's slice included).
 */
export function isCollectPath(path: string): boolean {
  return path === COLLECT_PATHS[0] || path === COLLECT_PATHS[1];
}

export interface CollectDeps {
  ingest: Ingest;
  cookies: VisitorCookies;
  allowedOrigins: readonly string[] | undefined;
  metrics: Metrics;
  logger: Logger;
  /** Runs before the answer, with what the hit did: Cloud Functions delivers here, while it has CPU. */
  afterIngest?: (result: HitResult) => Promise<unknown>;
}

/**
 * The ingestion routes as a plain node:http handler: express's per-request setup costs several
 * times a small handler's whole work (DESIGN.md), and these routes carry nearly all the traffic.
 */
export function createCollectHandler(deps: CollectDeps) {
  const originPolicy = createOriginPolicy(deps.allowedOrigins);
  const answer = createReplyBurst();

  function parse(req: IncomingMessage, path: string, query: string, body: string): [ClientName, RelayEvent[], Reply] {
    if (path === '/g/collect') return ['ga4', parseGa4Hit(query, body), sendNoContent];
    if (req.method === 'GET') return ['pixel', [parseDataQuery(query)], sendPixel];
    return ['data', parseDataBody(body, req.headers['content-type']), sendOk];
  }

  /**
   * Reads one hit and answers it. A hit with nothing to wait for (no body, nothing to store: most
   * page views) is answered without a promise; the others settle theirs, errors included.
   */
  return function collectHandler(req: IncomingMessage, res: ServerResponse): void | Promise<void> {
    const url = req.url ?? '/';
    const q = indexOf(url, '?');
    const path = q < 0 ? url : slice(url, 0, q);
    const query = q < 0 ? '' : slice(url, q + 1);
    try {
      if (originPolicy(req, res) === 'forbidden') {
        throw new BadRequestError(
          'RELAY_ORIGIN_NOT_ALLOWED',
          `origin ${req.headers.origin} may not send events; add it to allowedOrigins in the config`,
          403,
        );
      }
      if (req.method === 'OPTIONS') return answerPreflight(res);
      if (req.method !== 'GET' && req.method !== 'POST') {
        res.setHeader('allow', 'GET, POST, OPTIONS');
        throw new BadRequestError('RELAY_METHOD_NOT_ALLOWED', `${req.method} is not supported on ${path}; use GET or POST`, 405);
      }
      if (req.method === 'POST' && bodyAnnounced(req)) {
        return readBody(req).then((body) => handleHit(req, res, path, query, body)).catch((err: unknown) => sendError(res, err, deps));
      }
      const handled = handleHit(req, res, path, query, '');
      return handled && handled.catch((err: unknown) => sendError(res, err, deps));
    } catch (err) {
      sendError(res, err, deps);
    }
  };

  function handleHit(req: IncomingMessage, res: ServerResponse, path: string, query: string, body: string): void | Promise<void> {
    const [client, events, reply] = parse(req, path, query, body);
    const visitor = deps.cookies.identify(req.headers.cookie, events.find((e) => e.client_id)?.client_id);
    const result = deps.ingest({ client, events, visitor, referer: req.headers.referer, browser: () => browserFacts(req) });
    if (result instanceof Promise) return result.then((decided) => answerHit(req, res, visitor.id, reply, decided));
    return answerHit(req, res, visitor.id, reply, result);
  }

  function answerHit(req: IncomingMessage, res: ServerResponse, visitorId: string, reply: Reply, result: HitResult): void | Promise<void> {
    if (result.setCookie) res.setHeader('set-cookie', deps.cookies.serialize(visitorId, isHttps(req)));
    // The conversion is durably queued already: a failed delivery here is retried later, not reported.
    if (deps.afterIngest) {
      return deps.afterIngest(result)
        .catch((err: Error) => deps.logger.warn({ err: err.message }, 'collect.after_ingest_failed'))
        .then(() => answer(reply, res));
    }
    answer(reply, res);
  }
}

const sendOk: Reply = (res) => sendJson(res, 200, { ok: true });

function sendError(res: ServerResponse, err: unknown, deps: CollectDeps): void {
  const known = err instanceof RelayError;
  const error = known ? err : new RelayError('RELAY_INTERNAL', 'the relay failed to process the request', 500);
  if (!known) deps.logger.error({ err: (err as Error)?.message, stack: (err as Error)?.stack }, 'collect.unexpected_error');
  else if (error.status >= 500) deps.logger.warn({ code: error.code, err: error.message }, 'collect.unavailable');
  deps.metrics.rejectedRequests(error.code).inc();
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.removeHeader('set-cookie');
  // A tag can only retry what it is told to: 503 for a store outage, 4xx for what it must fix.
  if (error.status === 503) res.setHeader('retry-after', '1');
  sendJson(res, error.status, errorBody(error));
}

/**
 * The client's address is the last X-Forwarded-For entry: the one Cloud Run's front end (the one
 * trusted proxy) appended; anything before it is the client's own claim.
 */
function browserFacts(req: IncomingMessage): BrowserFacts {
  const forwarded = req.headers['x-forwarded-for'];
  const chain = (Array.isArray(forwarded) ? forwarded.join(',') : forwarded ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  return {
    client_ip_address: chain[chain.length - 1] ?? req.socket.remoteAddress,
    client_user_agent: req.headers['user-agent'],
    fbp: readCookie(req.headers.cookie, '_fbp='),
    ttp: readCookie(req.headers.cookie, '_ttp='),
  };
}

/** Cloud Run terminates TLS in front of the container and says so in X-Forwarded-Proto. */
function isHttps(req: IncomingMessage): boolean {
  const forwarded = req.headers['x-forwarded-proto'];
  const proto = Array.isArray(forwarded) ? forwarded[0] : forwarded?.split(',')[0];
  return proto?.trim() === 'https' || Boolean((req.socket as TLSSocket).encrypted);
}
