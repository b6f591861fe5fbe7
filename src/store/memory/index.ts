import { DEAD_LETTER_RETENTION_MS, SETTLED_JOB_RETENTION_MS } from '../redis/outbox.js';
import type { JobState, Store, VisitorClicks } from '../types.js';
import { createMemoryClickStore } from './clicks.js';
import { ExpiringMap } from './expiring-map.js';
import { createMemoryPostbackLog } from './log.js';
import { createMemoryOutbox } from './outbox.js';

export function createMemoryStore(options: { logMaxEntries: number; now?: () => number }): Store {
  const visitors = new ExpiringMap<VisitorClicks>(options.now);
  const dedup = new ExpiringMap<string>(options.now);
  const settled = new ExpiringMap<JobState>(options.now);
  const outbox = createMemoryOutbox(dedup, settled, SETTLED_JOB_RETENTION_MS, DEAD_LETTER_RETENTION_MS);
  const log = createMemoryPostbackLog(options.logMaxEntries);
  return {
    kind: 'memory',
    clicks: createMemoryClickStore(visitors),
    outbox,
    log,
    deliveryLog: log,
    async ping() {
      return true;
    },
    async close() {
      visitors.stop();
      dedup.stop();
      settled.stop();
      outbox.stop();
    },
  };
}
