import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../../log.js';
import type { Store } from '../types.js';
import { createRedisClickStore } from './clicks.js';
import { createRedisConnections } from './connection.js';
import { createRedisLastTouch } from './last-touch.js';
import { withDeadline } from './deadline.js';
import { createRedisPostbackLog } from './log.js';
import { createRedisOutbox } from './outbox.js';
import { createWorkerWrites } from './worker-writes.js';

const CLOSE_WAIT_MS = 500;

export function createRedisStore(url: string, options: { logMaxEntries: number; log: Logger }): Store {
  const connections = createRedisConnections(url, options.log);
  const workerWrites = createWorkerWrites(connections.worker);
  return {
    kind: 'redis',
    clicks: createRedisClickStore(connections.request),
    outbox: createRedisOutbox(connections, workerWrites, options.log),
    log: createRedisPostbackLog(connections.request, options.logMaxEntries),
    deliveryLog: createRedisPostbackLog(connections.request, options.logMaxEntries, workerWrites),
    acceptLastTouch: createRedisLastTouch(connections.request),
    async ping() {
      try {
        return (await withDeadline(connections.request.ping(), 'ping')) === 'PONG';
      } catch {
        return false;
      }
    },
    async close() {
      // QUIT lets queued replies arrive; a connection that is down would wait for ever, so not long.
      const quits = Promise.allSettled(Object.values(connections).map((c) => c.quit()));
      await Promise.race([quits, sleep(CLOSE_WAIT_MS)]);
      for (const c of Object.values(connections)) c.disconnect();
    },
  };
}
