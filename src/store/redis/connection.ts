import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from '../../log.js';
import { withScripts, type RelayScripts } from './scripts.js';

export type RelayRedis = Redis & RelayScripts;

/** The request path gives up fast, so a tag gets a 503 it can retry instead of a hanging request. */
export const REQUEST_DEADLINE_MS = 1000;

export interface RedisConnections {
  /** Request path: no offline queue, auto-pipelined; its callers set a short deadline. */
  request: RelayRedis;
  /** Worker: patient, queues commands while reconnecting. */
  worker: RelayRedis;
  /** Blocking reads only: a blocked connection cannot carry other commands. */
  blocking: RelayRedis;
}

export function createRedisConnections(url: string, log: Logger): RedisConnections {
  const common: RedisOptions = {
    // RESP2 keeps reply shapes (stream entries, hashes) the same on Redis 6 and 7 and Memorystore.
    protocol: 2,
    lazyConnect: false,
    connectionName: 'postback-relay',
    retryStrategy: (times) => Math.min(times * 200, 2000),
  };
  const make = (role: string, options: RedisOptions): RelayRedis => {
    const redis = withScripts(new Redis(url, { ...common, ...options }));
    let lastReport = 0;
    // Without a listener ioredis reports errors as unhandled 'error' events; one line per 10 s is enough.
    redis.on('error', (err: Error) => {
      const now = Date.now();
      if (now - lastReport > 10_000) {
        lastReport = now;
        log.warn({ role, err: err.message }, 'redis.connection_error');
      }
    });
    return redis;
  };
  return {
    request: make('request', {
      enableOfflineQueue: false,
      enableAutoPipelining: true,
      // These scripts batch themselves (turn-batch.ts); auto-pipelined, a batch would also wait
      // for the one ahead of it to be answered, as ioredis keeps one auto-pipeline in flight.
      autoPipeliningIgnoredCommands: ['acceptLastTouch', 'saveVisitorClicks'],
      maxRetriesPerRequest: 1,
      // No commandTimeout: every request-path call has its own deadline (withDeadline), and
      // ioredis's would add a timer to each command and leave the command object slow to use.
    }),
    worker: make('worker', { maxRetriesPerRequest: null, enableAutoPipelining: true, autoPipeliningIgnoredCommands: ['workerWrites'] }),
    blocking: make('blocking', { maxRetriesPerRequest: null }),
  };
}
