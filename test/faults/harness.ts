import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, Socket, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent } from 'undici';
import { stringify } from 'yaml';
import { after, afterEach, before, beforeEach } from 'node:test';
import { NODE_FLAGS } from '../../src/node-flags.js';
import { freePort, startRedis, type RedisServer } from '../helpers/redis-server.js';
import { ADMIN_TOKEN, COOKIE_SECRET } from '../helpers/relay.js';
import { Sink, type SinkAnswer, type SinkRequest } from '../helpers/sink.js';

/**
 * The fault suite's parts: relay processes started from the compiled server (so SIGKILL and
 * SIGTERM are real), a network sink that deduplicates like CAKE does, a load generator that
 * retries like a tag, and a ledger that says what was lost or paid twice.
 */

/** The bundled server, as the container runs it. */
const SERVER = join(import.meta.dirname, '..', '..', 'dist', 'server.cjs');

export interface RelayProcess {
  url: string;
  pid: number;
  logs: string[];
  /** Resolves with the exit time (epoch ms) once the process is gone. */
  exited: Promise<number>;
  signal(name: NodeJS.Signals): void;
  rssBytes(): number;
}

export function writeConfig(config: Record<string, unknown>): string {
  const path = join(mkdtempSync(join(tmpdir(), 'relay-fault-')), 'relay.yaml');
  writeFileSync(path, stringify(config));
  return path;
}

export async function startRelayProcess(redisUrl: string, configPath: string): Promise<RelayProcess> {
  const port = await freePort();
  const child: ChildProcess = spawn(process.execPath, [...NODE_FLAGS, SERVER], {
    env: {
      PATH: process.env.PATH, PORT: String(port), REDIS_URL: redisUrl, RELAY_CONFIG: configPath,
      RELAY_ADMIN_TOKEN: ADMIN_TOKEN, RELAY_COOKIE_SECRET: COOKIE_SECRET, LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: string[] = [];
  const collect = (chunk: Buffer) => logs.push(...chunk.toString('utf8').split('\n').filter(Boolean));
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  const exited = new Promise<number>((resolve) => child.once('exit', () => resolve(Date.now())));
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`relay exited at startup:\n${logs.join('\n')}`);
    try {
      if ((await fetch(`${url}/ready`)).status === 200) break;
    } catch {
      // not listening yet
    }
    if (i > 200) throw new Error('relay never became ready');
    await sleep(25);
  }
  return {
    url, pid: child.pid!, logs, exited,
    signal: (name) => {
      if (child.exitCode === null) child.kill(name);
    },
    rssBytes: () => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1] ?? 0) * 1024,
  };
}

/**
 * A network that records every hit and deduplicates by order ID the way CAKE does with
 * `unique_id`: the first success is recorded, a repeat is answered "Duplicate conversion".
 */
export class DedupingNetwork extends Sink {
  readonly hits = new Map<string, number>();
  readonly successes = new Map<string, number>();
  readonly attemptTimes = new Map<string, number[]>();
  /** Until this returns undefined, the network answers with a fault instead. */
  fault: (req: SinkRequest) => SinkAnswer | undefined = () => undefined;

  constructor() {
    super();
    this.script = (req) => {
      const order = req.url.searchParams.get('unique_id') ?? '';
      this.hits.set(order, (this.hits.get(order) ?? 0) + 1);
      this.attemptTimes.set(order, [...(this.attemptTimes.get(order) ?? []), Date.now()]);
      const faulty = this.fault(req);
      if (faulty) return faulty;
      if (this.successes.has(order)) {
        return { status: 200, body: JSON.stringify({ request_status: 'Failure', message: 'Duplicate conversion' }) };
      }
      this.successes.set(order, 1);
      return { status: 200, body: JSON.stringify({ request_status: 'Success', conversion_id: this.successes.size }) };
    };
  }
}

export interface Ledger {
  /** Orders issued by the generator. */
  orders: number;
  /** Every order the relay answered 2xx for. */
  acked: Set<string>;
  sent: number;
  non2xx: number;
  latenciesMs: number[];
}

// Enough connections that the generator never queues requests itself: latencies are the relay's.
const loadAgent = new Agent({ connections: 2_048, keepAliveTimeout: 5_000 });

/**
 * Fires conversions at `rate` per second for `durationMs`, round-robin over `targets`. Like a tag,
 * each order is retried with the same transaction ID until the relay answers 2xx (or `giveUpMs`).
 */
export async function runLoad(options: {
  targets: () => string[];
  rate: number;
  durationMs: number;
  prefix: string;
  giveUpMs?: number;
  copies?: number;
}): Promise<Ledger> {
  const ledger: Ledger = { orders: 0, acked: new Set(), sent: 0, non2xx: 0, latenciesMs: [] };
  const giveUp = options.giveUpMs ?? 60_000;
  const orders: Array<Promise<void>> = [];
  const started = Date.now();
  let n = 0;
  while (Date.now() - started < options.durationMs) {
    const due = Math.floor(((Date.now() - started) / 1000) * options.rate);
    while (n < due) {
      const order = `${options.prefix}-${n}`;
      for (let copy = 0; copy < (options.copies ?? 1); copy++) orders.push(fireUntilAcked(order, n + copy, options.targets, ledger, giveUp));
      n += 1;
    }
    await sleep(5);
  }
  await Promise.all(orders);
  ledger.orders = n;
  return ledger;
}

async function fireUntilAcked(order: string, i: number, targets: () => string[], ledger: Ledger, giveUpMs: number): Promise<void> {
  const deadline = Date.now() + giveUpMs;
  for (let attempt = 0; Date.now() < deadline; attempt++) {
    const list = targets();
    const target = list[(i + attempt) % list.length]!;
    const started = performance.now();
    try {
      ledger.sent += 1;
      const res = await fetch(`${target}/data`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ event_name: 'purchase', transaction_id: order, click_id: `click-${order}`, value: 10 }),
        // @ts-expect-error undici's dispatcher option is accepted by Node's fetch
        dispatcher: loadAgent,
        signal: AbortSignal.timeout(5_000),
      });
      await res.arrayBuffer();
      ledger.latenciesMs.push(performance.now() - started);
      if (res.status >= 200 && res.status < 300) {
        ledger.acked.add(order);
        return;
      }
      ledger.non2xx += 1;
    } catch {
      ledger.non2xx += 1;
    }
    await sleep(100 + Math.random() * 100);
  }
}

export interface Verdict {
  acked: number;
  lost: string[];
  duplicated: string[];
  /** Hits beyond the first per order: repeats the network deduplicated. */
  repeatHits: number;
}

export function judge(ledger: Ledger, network: DedupingNetwork): Verdict {
  const lost = [...ledger.acked].filter((order) => !network.successes.has(order));
  const duplicated = [...network.successes].filter(([, n]) => n > 1).map(([order]) => order);
  let repeatHits = 0;
  for (const n of network.hits.values()) repeatHits += n - 1;
  return { acked: ledger.acked.size, lost, duplicated, repeatHits };
}

/** What the relays' own log lines say of each order: jobs accepted, and postback attempts by outcome. */
export interface RelayAccount {
  /** Orders with more than one accepted job. */
  acceptedTwice: string[];
  /** Orders with more than one attempt that got the network's verdict: sent again after an answer. */
  answeredTwice: string[];
  /** Attempts that got no answer (a timeout, a dropped connection): the network may have them. */
  unanswered: number;
}

export function accountFrom(relays: RelayProcess[]): RelayAccount {
  const accepted = new Map<string, number>();
  const answered = new Map<string, number>();
  let unanswered = 0;
  const count = (map: Map<string, number>, order: string) => map.set(order, (map.get(order) ?? 0) + 1);
  for (const relay of relays) {
    for (const text of relay.logs) {
      let line: { message?: string; transaction_id?: string; status?: string; reason?: string };
      try {
        line = JSON.parse(text) as typeof line;
      } catch {
        continue;
      }
      if (!line.transaction_id) continue;
      if (line.message === 'conversion.accepted') count(accepted, line.transaction_id);
      if (line.message !== 'postback.attempt' && line.message !== 'postback.dead') continue;
      if (line.status === 'retrying' && /^(no answer|network error)/.test(line.reason ?? '')) unanswered += 1;
      else count(answered, line.transaction_id);
    }
  }
  const twice = (map: Map<string, number>) => [...map].filter(([, n]) => n > 1).map(([order]) => order);
  return { acceptedTwice: twice(accepted), answeredTwice: twice(answered), unanswered };
}

/** Waits until every acked order reached the network, or the time runs out; returns the time taken. */
export async function waitForDrain(ledger: Ledger, network: DedupingNetwork, timeoutMs: number): Promise<number> {
  const started = Date.now();
  while ([...ledger.acked].some((order) => !network.successes.has(order))) {
    if (Date.now() - started > timeoutMs) break;
    await sleep(50);
  }
  return Date.now() - started;
}

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

/** One row of the results table, printed as a diagnostic line the README table is built from. */
export function report(row: { case: string; load: string; lost: number; duplicated: number; drainMs: number; note?: string }): void {
  console.log(`fault | ${row.case} | ${row.load} | lost ${row.lost} | duplicated ${row.duplicated} | drained in ${(row.drainMs / 1000).toFixed(1)} s${row.note ? ` | ${row.note}` : ''}`);
}

/** A destination on the deduplicating network, with a fast retry schedule for the suite. */
export function cakeOn(network: Sink, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: 'cake', template: 'cake-api-v2', mode: 'live',
    settings: { baseUrl: network.baseUrl, offer_id: '42', api_key: 'fault-suite-key-1' },
    retry: { delaysSeconds: [0.5, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1], maxAgeHours: 1 },
    timeoutMs: 2_000,
    ...overrides,
  };
}

/**
 * A TCP proxy between the relay and Redis that can cut the connection right after Redis ran a
 * command: the command took effect, the reply never arrives (ioredis then re-sends it).
 */
export class LostReplyProxy {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  port = 0;
  injected = 0;
  private armed = 0;

  constructor(private readonly upstreamPort: number, private readonly marker: (chunk: Buffer) => boolean) {}

  /** Cut the reply to the next `count` commands the marker matches. */
  arm(count: number): void {
    this.armed += count;
  }

  async start(): Promise<this> {
    this.server = createServer((client) => {
      const upstream = new Socket();
      upstream.connect(this.upstreamPort, '127.0.0.1');
      this.sockets.add(client).add(upstream);
      let dropNextReply = false;
      client.on('data', (chunk: Buffer) => {
        if (this.armed > 0 && this.marker(chunk)) {
          this.armed -= 1;
          dropNextReply = true;
        }
        upstream.write(chunk);
      });
      upstream.on('data', (chunk: Buffer) => {
        if (dropNextReply) {
          this.injected += 1;
          client.destroy();
          upstream.destroy();
          return;
        }
        client.write(chunk);
      });
      const close = () => {
        client.destroy();
        upstream.destroy();
        this.sockets.delete(client);
        this.sockets.delete(upstream);
      };
      client.on('error', close);
      upstream.on('error', close);
      client.on('close', close);
      upstream.on('close', close);
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as { port: number }).port;
    return this;
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

/**
 * A fault suite's fixtures: one redis-server with AOF for the file, flushed before each case, and
 * a fresh deduplicating network per case. Read them inside a test, once the hooks have run.
 */
export function faultFixtures(): { readonly redis: RedisServer; readonly network: DedupingNetwork } {
  let redis: RedisServer | undefined;
  let network: DedupingNetwork | undefined;
  before(async () => {
    redis = await startRedis({ appendonly: true });
  });
  after(async () => {
    await redis?.stop();
  });
  beforeEach(async () => {
    await redis!.flush();
    network = await new DedupingNetwork().start();
  });
  afterEach(() => network?.stop());
  return {
    get redis() {
      return redis!;
    },
    get network() {
      return network!;
    },
  };
}
