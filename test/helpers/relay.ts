import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { stringify } from 'yaml';
import { loadConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/log.js';
import { createRelay, type Relay } from '../../src/relay.js';

export const ADMIN_TOKEN = 'test-admin-token-0123456789';
export const COOKIE_SECRET = 'test-cookie-secret-0123456789abcdef';

/** A clock the test moves by hand, so session windows can pass without waiting. */
export class TestClock {
  constructor(public ms = Date.now()) {}
  now = () => this.ms;
  advance(ms: number): void {
    this.ms += ms;
  }
}

export interface StartedRelay {
  relay: Relay;
  url: string;
  logLines: string[];
  adminGet(path: string): Promise<Response>;
  postbacks(query?: Record<string, string>): Promise<Array<Record<string, unknown>>>;
  /** Polls the postback log until `predicate` holds. */
  waitForLog(predicate: (entries: Array<Record<string, unknown>>) => boolean, timeoutMs?: number): Promise<Array<Record<string, unknown>>>;
}

export interface RelayTestOptions {
  redisUrl?: string | undefined;
  config: Record<string, unknown>;
  env?: Record<string, string>;
  clock?: TestClock;
}

/** Where the relay's shutdown is registered: a test's context, or a suite's list. */
export interface Cleanup {
  after(fn: () => unknown): void;
}

/** Starts the real relay (config file, HTTP server, worker) for one test; closed when it ends. */
export async function startRelay(t: Cleanup, options: RelayTestOptions): Promise<StartedRelay> {
  const dir = mkdtempSync(join(tmpdir(), 'relay-config-'));
  const configPath = join(dir, 'relay.yaml');
  writeFileSync(configPath, stringify(options.config));
  const env: NodeJS.ProcessEnv = {
    RELAY_CONFIG: configPath,
    RELAY_ADMIN_TOKEN: ADMIN_TOKEN,
    RELAY_COOKIE_SECRET: COOKIE_SECRET,
    LOG_LEVEL: 'debug',
    ...(options.redisUrl ? { REDIS_URL: options.redisUrl } : {}),
    ...options.env,
  };
  const config = loadConfig(env);
  const logLines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      logLines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  const logger = createLogger(config.logLevel, sink);
  const relay = createRelay(config, {
    logger,
    ...(options.clock ? { now: options.clock.now } : {}),
    worker: { pollMs: 20, concurrency: 8 },
  });
  relay.worker.start();
  const server = await relay.listen(0);
  t.after(() => relay.close(2_000));
  const url = `http://127.0.0.1:${server.port}`;
  // The request path has no offline queue: wait until the store answers, as Cloud Run's probe would.
  for (let i = 0; (await fetch(`${url}/ready`)).status !== 200; i++) {
    if (i > 200) throw new Error('the relay never became ready');
    await new Promise((r) => setTimeout(r, 25));
  }

  async function adminGet(path: string): Promise<Response> {
    return fetch(url + path, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
  }
  async function postbacks(query: Record<string, string> = {}) {
    const res = await adminGet(`/admin/postbacks?${new URLSearchParams(query)}`);
    const body = (await res.json()) as { postbacks: Array<Record<string, unknown>> };
    return body.postbacks;
  }
  async function waitForLog(predicate: (entries: Array<Record<string, unknown>>) => boolean, timeoutMs = 10_000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const entries = await postbacks({ limit: '1000' });
      if (predicate(entries)) return entries;
      if (Date.now() > deadline) throw new Error(`postback log never matched; last: ${JSON.stringify(entries, null, 1)}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }
  return { relay, url, logLines, adminGet, postbacks, waitForLog };
}

/** A CAKE API destination pointed at a local sink, with fast retries. */
export function cakeDestination(sinkBaseUrl: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: 'cake',
    template: 'cake-api-v2',
    mode: 'live',
    clickParams: ['s1'],
    sessionHours: 720,
    conversionEvents: ['purchase'],
    settings: { baseUrl: sinkBaseUrl, offer_id: '42', api_key: 'cake-secret-key-123' },
    retry: { delaysSeconds: [0.05, 0.05, 0.05], maxAgeHours: 1 },
    ...overrides,
  };
}
