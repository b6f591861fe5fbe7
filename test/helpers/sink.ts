import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SinkRequest {
  method: string;
  url: URL;
  headers: IncomingMessage['headers'];
  body: string;
}

export interface SinkAnswer {
  status: number;
  body?: string;
  headers?: Record<string, string>;
  /** Answer only after this long, like a slow network. */
  delayMs?: number;
  /** Never answer: the connection stays open until the caller gives up. */
  hang?: boolean;
}

export type SinkScript = (req: SinkRequest, index: number) => SinkAnswer;

/** CAKE's documented success answer for /api/2/conversion.json. */
export const CAKE_SUCCESS: SinkAnswer = {
  status: 200,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ request_status: 'Success', conversion_id: 1001, conversion_status: 'approved' }),
};

/**
 * A local HTTP server that plays an affiliate network: it answers as scripted and keeps every
 * request it received, so a test can count postbacks per transaction ID.
 */
export class Sink {
  readonly requests: SinkRequest[] = [];
  private server: Server | undefined;
  private waiters: Array<() => void> = [];
  port = 0;

  constructor(public script: SinkScript = () => CAKE_SUCCESS) {}

  get baseUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const received: SinkRequest = {
          method: req.method ?? 'GET',
          url: new URL(req.url ?? '/', this.baseUrl),
          headers: req.headers,
          body: Buffer.concat(chunks).toString('utf8'),
        };
        const index = this.requests.push(received) - 1;
        const answer = this.script(received, index);
        for (const wake of this.waiters.splice(0)) wake();
        if (answer.hang) return;
        const respond = () => {
          res.writeHead(answer.status, answer.headers ?? {});
          res.end(answer.body ?? '');
        };
        if (answer.delayMs) setTimeout(respond, answer.delayMs);
        else respond();
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  /** Resolves once at least `count` requests arrived; rejects after `timeoutMs`. */
  async waitFor(count: number, timeoutMs = 10_000): Promise<SinkRequest[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.requests.length < count) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`sink: expected ${count} requests, got ${this.requests.length}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 200));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.requests;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
