import { EventEmitter } from 'node:events';
import type { Readable } from 'node:stream';
import type { Agent } from 'undici';
import type { RenderedRequest } from '../destinations/index.js';

/** Enough of a network's answer to classify it; the rest is not read. */
const MAX_ANSWER_BYTES = 64 * 1024;

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  durationMs: number;
}

/** The postback got no answer. `retryable` is false when the request itself could not be made. */
export class TransportError extends Error {
  constructor(
    message: string,
    readonly durationMs: number,
    readonly retryable = true,
  ) {
    super(message);
    this.name = 'TransportError';
  }
}

export interface Sender {
  send(req: RenderedRequest, timeoutMs: number): Promise<Answer>;
  /** Aborts whatever is still in flight: at shutdown, past the grace period, those jobs stay queued. */
  destroy(): Promise<void>;
}

/**
 * Sends postbacks through one keep-alive connection pool. Redirects are never followed: a postback
 * URL that redirects is misconfigured, and following it could reach an internal address.
 */
export function createSender(options: { connectionsPerOrigin?: number } = {}): Sender {
  // The HTTP client is loaded with the first postback: a relay that only takes requests
  // (RELAY_MODE=web) never needs it, and one that delivers starts without waiting for it.
  let client: Promise<{ request: typeof import('undici').request; agent: Agent }> | undefined;
  const connect = () =>
    (client ??= import('undici').then(({ Agent, request }) => ({
      request,
      agent: new Agent({
        connections: options.connectionsPerOrigin ?? 64,
        keepAliveTimeout: 10_000,
        connect: { timeout: 5_000 },
      }),
    })));
  return {
    async send(req, timeoutMs) {
      const started = performance.now();
      // The deadline: undici takes an EventEmitter as the abort signal, which costs a fraction of
      // an AbortController (or AbortSignal.timeout) at thousands of postbacks a second.
      const deadline = new EventEmitter();
      const timer = setTimeout(() => deadline.emit('abort'), timeoutMs);
      try {
        const { request, agent } = await connect();
        const res = await request(req.url, {
          method: req.method,
          headers: req.headers,
          body: req.body,
          dispatcher: agent,
          signal: deadline,
          headersTimeout: timeoutMs,
          bodyTimeout: timeoutMs,
        });
        const body = await readCapped(res.body);
        return { status: res.statusCode, headers: res.headers, body, durationMs: performance.now() - started };
      } catch (err) {
        const elapsed = performance.now() - started;
        const e = err as Error & { code?: string };
        if (e.code === 'UND_ERR_INVALID_ARG') {
          throw new TransportError(`the request could not be made: ${e.message}`, elapsed, false);
        }
        const timedOut = e.code === 'UND_ERR_ABORTED' || e.code === 'UND_ERR_HEADERS_TIMEOUT' || e.code === 'UND_ERR_BODY_TIMEOUT';
        throw new TransportError(
          timedOut ? `no answer within ${timeoutMs} ms` : `network error: ${e.code ?? e.name}: ${e.message}`,
          elapsed,
        );
      } finally {
        clearTimeout(timer);
      }
    },
    async destroy() {
      if (client) await (await client).agent.destroy();
    },
  };
}

function readCapped(body: Readable): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = () => resolve(Buffer.concat(chunks).subarray(0, MAX_ANSWER_BYTES).toString('utf8'));
    body.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.length;
      if (size >= MAX_ANSWER_BYTES) {
        body.destroy();
        done();
      }
    });
    body.once('end', done);
    body.once('error', reject);
  });
}
