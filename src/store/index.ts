import type { Logger } from '../log.js';
import { createMemoryStore } from './memory/index.js';
import { createRedisStore } from './redis/index.js';
import type { Store } from './types.js';

export type * from './types.js';

export function createStore(
  redisUrl: string | undefined,
  options: { logMaxEntries: number; log: Logger; now: () => number },
): Store {
  return redisUrl ? createRedisStore(redisUrl, options) : createMemoryStore(options);
}
