import { matchesFilter, type PostbackLog, type PostbackLogEntry } from '../types.js';
import type { RedisConnections } from './connection.js';
import { withDeadline } from './deadline.js';
import { keys } from './keys.js';

const PAGE = 500;

/**
 * The postback log: a stream capped near `maxEntries`, read newest first. Entries are written by
 * the worker, on its connection, so each goes out in the same pipeline as the settling of its job;
 * reads (operators, the admin API) use the fail-fast request connection.
 */
export function createRedisPostbackLog(connections: Pick<RedisConnections, 'request' | 'worker'>, maxEntries: number): PostbackLog {
  const { request: redis, worker } = connections;
  return {
    async append(entry) {
      await worker.xadd(keys.log, 'MAXLEN', '~', maxEntries, '*', 'e', JSON.stringify(entry));
    },
    async query(filter) {
      const found: PostbackLogEntry[] = [];
      let end = '+';
      for (;;) {
        const page = (await withDeadline(redis.xrevrange(keys.log, end, '-', 'COUNT', PAGE), 'postback log read')) as Array<[string, string[]]>;
        for (const [, fields] of page) {
          const entry = JSON.parse(fields[1] ?? '{}') as PostbackLogEntry;
          if (matchesFilter(entry, filter)) found.push(entry);
          if (found.length >= filter.limit) return found;
        }
        if (page.length < PAGE) return found;
        end = `(${page[page.length - 1]![0]}`;
      }
    },
  };
}
