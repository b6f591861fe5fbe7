import { matchesFilter, type PostbackLog, type PostbackLogEntry } from '../types.js';
import type { RelayRedis } from './connection.js';
import { withDeadline } from './deadline.js';
import { keys } from './keys.js';
import type { WorkerWrites } from './worker-writes.js';

const PAGE = 500;

/**
 * The postback log: a stream capped near `maxEntries`, read newest first. Requests write it on the
 * fail-fast request connection, with a deadline; the delivery worker through its batched writes
 * (`workerWrites`), so each entry shares the script call that settles its job. Reads use the
 * request connection either way.
 */
export function createRedisPostbackLog(
  request: RelayRedis,
  maxEntries: number,
  workerWrites?: WorkerWrites,
): PostbackLog {
  return {
    async append(entry) {
      const json = JSON.stringify(entry);
      if (workerWrites) await workerWrites.appendLog(maxEntries, json);
      else await withDeadline(request.xadd(keys.log, 'MAXLEN', '~', maxEntries, '*', 'e', json), 'postback log write');
    },
    async query(filter) {
      const found: PostbackLogEntry[] = [];
      let end = '+';
      for (;;) {
        const page = (await withDeadline(request.xrevrange(keys.log, end, '-', 'COUNT', PAGE), 'postback log read')) as Array<[string, string[]]>;
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
