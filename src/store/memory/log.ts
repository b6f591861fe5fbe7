import { matchesFilter, type PostbackLog, type PostbackLogEntry } from '../types.js';

export function createMemoryPostbackLog(maxEntries: number): PostbackLog {
  const entries: PostbackLogEntry[] = [];
  return {
    async append(entry) {
      entries.push(entry);
      // Trim in batches: splicing one element per append would make every append O(n).
      if (entries.length > maxEntries * 1.1) entries.splice(0, entries.length - maxEntries);
    },
    async query(filter) {
      const found: PostbackLogEntry[] = [];
      for (let i = entries.length - 1; i >= 0 && found.length < filter.limit; i--) {
        if (matchesFilter(entries[i]!, filter)) found.push(entries[i]!);
      }
      return found;
    },
  };
}
