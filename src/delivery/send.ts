import type { Agent, Dispatcher } from 'undici';
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
 *
 * The pool's dispatch API, not undici.request: an answer is a status, headers and at most 64 KB of
 * body, read straight into a buffer. request() wraps every body in a stream, and at thousands of
 * postbacks a second the stream costs more than the rest of the answer.
 */
export function createSender(options: { connectionsPerOrigin?: number } = {}): Sender {
  // The HTTP client is loaded with the first postback: a relay that only takes requests
  // (RELAY_MODE=web) never needs it, and one that delivers starts without waiting for it.
  let pool: Promise<Agent> | undefined;
  const connect = () =>
    (pool ??= import('undici').then(
      ({ Agent }) => new Agent({
        connections: options.connectionsPerOrigin ?? 64,
        keepAliveTimeout: 10_000,
        connect: { timeout: 5_000 },
      }),
      (err: Error) => {
        // Tried again with the next postback, not cached: the job stays claimed meanwhile.
        pool = undefined;
        throw err;
      },
    ));
  return {
    async send(req, timeoutMs) {
      const started = performance.now();
      const agent = await connect();
      let url: URL | undefined;
      try {
        url = new URL(req.url);
      } catch {
        // reported below
      }
      if (url?.protocol !== 'http:' && url?.protocol !== 'https:') {
        throw new TransportError(`the request could not be made: not an http(s) URL: ${req.url}`, performance.now() - started, false);
      }
      return new Promise<Answer>((resolve, reject) => {
        const reader = new AnswerReader(started, timeoutMs, resolve, reject);
        try {
          agent.dispatch({
            origin: url.origin,
            path: url.pathname + url.search,
            method: req.method,
            headers: req.headers,
            body: req.body ?? null,
            headersTimeout: timeoutMs,
            bodyTimeout: timeoutMs,
          }, reader);
        } catch (err) {
          reader.onResponseError(undefined, err as Error);
        }
      });
    },
    async destroy() {
      if (pool) await (await pool).destroy();
    },
  };
}

/**
 * One postback's answer, as the pool delivers it. Settles once: with the answer, at the first
 * 64 KB of its body, at the deadline, or with the transport's error.
 */
class AnswerReader implements Dispatcher.DispatchHandler {
  private status = 0;
  private headers: Record<string, string | string[] | undefined> = {};
  private readonly chunks: Buffer[] = [];
  private size = 0;
  private settled = false;
  private controller: Dispatcher.DispatchController | undefined;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly started: number,
    private readonly timeoutMs: number,
    private readonly resolve: (answer: Answer) => void,
    private readonly reject: (err: TransportError) => void,
  ) {
    this.timer = setTimeout(() => {
      this.fail(new TransportError(`no answer within ${timeoutMs} ms`, this.elapsed()));
      this.controller?.abort(new Error('past its deadline'));
    }, timeoutMs);
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    // Its deadline passed while it waited for a connection: it is not sent at all. Thrown rather
    // than aborted: undici 7 fails a request whose start throws before writing it and keeps the
    // connection, where an abort would close a healthy keep-alive connection too.
    if (this.settled) throw new Error('past its deadline');
  }

  onResponseStart(_controller: Dispatcher.DispatchController, statusCode: number, headers: Record<string, string | string[] | undefined>): void {
    this.status = statusCode;
    this.headers = headers;
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.settled) return;
    this.chunks.push(chunk);
    this.size += chunk.length;
    if (this.size >= MAX_ANSWER_BYTES) {
      this.succeed();
      // The rest is not wanted; the connection closes rather than read it.
      controller.abort(new Error('answer read up to its limit'));
    }
  }

  onResponseEnd(): void {
    this.succeed();
  }

  onResponseError(_controller: Dispatcher.DispatchController | undefined, err: Error): void {
    if (this.settled) return;
    const e = err as Error & { code?: string };
    if (e.code === 'UND_ERR_INVALID_ARG') {
      this.fail(new TransportError(`the request could not be made: ${e.message}`, this.elapsed(), false));
      return;
    }
    const timedOut = e.code === 'UND_ERR_HEADERS_TIMEOUT' || e.code === 'UND_ERR_BODY_TIMEOUT';
    this.fail(new TransportError(
      timedOut ? `no answer within ${this.timeoutMs} ms` : `network error: ${e.code ?? e.name}: ${e.message}`,
      this.elapsed(),
    ));
  }

  private elapsed(): number {
    return performance.now() - this.started;
  }

  private succeed(): void {
    if (this.settled) return;
    this.settled = true;
    clearTimeout(this.timer);
    const body = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
    this.resolve({
      status: this.status,
      headers: this.headers,
      body: body.subarray(0, MAX_ANSWER_BYTES).toString('utf8'),
      durationMs: this.elapsed(),
    });
  }

  private fail(err: TransportError): void {
    if (this.settled) return;
    this.settled = true;
    clearTimeout(this.timer);
    this.reject(err);
  }
}
