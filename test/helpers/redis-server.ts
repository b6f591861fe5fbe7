import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';

export interface RedisServer {
  url: string;
  port: number;
  /** SIGKILL the server (the data dir stays, so AOF can bring it back). */
  kill(): Promise<void>;
  /** Start it again on the same port and data dir. */
  restart(): Promise<void>;
  /** Send the server a signal: SIGSTOP freezes it with its connections open, SIGCONT thaws it. */
  signal(name: NodeJS.Signals): void;
  stop(): Promise<void>;
  flush(): Promise<void>;
}

/** A free TCP port on loopback, by letting the kernel choose one. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function assertRedisInstalled(): void {
  const probe = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  if (probe.error) {
    throw new Error(
      'redis-server is not installed, and the tests start their own. Install it with ' +
        '`apt-get install -y redis-server` (Debian/Ubuntu) or `brew install redis`, or set REDIS_URL to a disposable server.',
    );
  }
}

/**
 * A private redis-server on a free port with its own data dir, for one test file. Never the
 * machine's shared one. With REDIS_URL set, that server is used instead (and flushed).
 */
export async function startRedis(options: { appendonly?: boolean } = {}): Promise<RedisServer> {
  if (process.env.REDIS_URL) {
    const url = process.env.REDIS_URL;
    const flush = async () => {
      const r = new Redis(url);
      await r.flushdb();
      r.disconnect();
    };
    await flush();
    const notSupported = async () => {
      throw new Error('kill/restart needs a redis-server started by the tests; unset REDIS_URL');
    };
    return {
      url, port: Number(new URL(url).port), kill: notSupported, restart: notSupported, stop: async () => {}, flush,
      signal: () => {
        throw new Error('signals need a redis-server started by the tests; unset REDIS_URL');
      },
    };
  }
  assertRedisInstalled();
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'relay-redis-'));
  let child: ChildProcess | undefined;

  async function launch(): Promise<void> {
    child = spawn(
      'redis-server',
      [
        '--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '',
        '--appendonly', options.appendonly ? 'yes' : 'no', '--appendfsync', 'everysec',
      ],
      { stdio: 'ignore' },
    );
    for (let i = 0; i < 100; i++) {
      const probe = new Redis({ port, host: '127.0.0.1', lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
      probe.on('error', () => {});
      try {
        await probe.connect();
        await probe.ping();
        probe.disconnect();
        return;
      } catch {
        probe.disconnect();
        await sleep(50);
      }
    }
    throw new Error(`redis-server did not start on port ${port}`);
  }

  async function kill(): Promise<void> {
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child!.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }

  await launch();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    kill,
    restart: launch,
    signal(name) {
      child?.kill(name);
    },
    async stop() {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
    async flush() {
      const r = new Redis({ port, host: '127.0.0.1' });
      await r.flushall();
      r.disconnect();
    },
  };
}

/**
 * Script calls a server ran since its last CONFIG RESETSTAT, from `INFO commandstats` (Redis 6.2+:
 * failed_calls). An EVALSHA refused for an unknown script is re-sent as EVAL: counted once.
 */
export function scriptCallsIn(commandstats: string): number {
  let calls = 0;
  for (const [, count, failed] of commandstats.matchAll(/cmdstat_(?:evalsha|eval):calls=(\d+),.*?failed_calls=(\d+)/g)) {
    calls += Number(count) - Number(failed);
  }
  return calls;
}
