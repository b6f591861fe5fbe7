import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Store } from '../store/types.js';
import { sendJson } from './respond.js';

/**
 * Liveness (/healthy) and readiness (/ready) on plain node:http. Cloud Run's startup probe is the
 * first request a new instance gets, and traffic waits for its answer: it must not wait for the
 * admin side (express) to load as well.
 */
export type ProbeHandler = (req: IncomingMessage, res: ServerResponse, path: string) => boolean;

/** Answers GET and HEAD on the probe paths and returns true; leaves everything else alone. */
export function createProbeHandler(store: Store): ProbeHandler {
  return (req, res, path) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    if (path === '/healthy') {
      sendJson(res, 200, { status: 'ok' });
      return true;
    }
    if (path === '/ready') {
      void store.ping().then((ok) => {
        sendJson(res, ok ? 200 : 503, { status: ok ? 'ready' : 'store unavailable', store: store.kind });
      });
      return true;
    }
    return false;
  };
}
