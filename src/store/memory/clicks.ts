import { newestPerDestination, type ClickStore, type VisitorClicks, type VisitorRef } from '../types.js';
import type { ExpiringMap } from './expiring-map.js';

/** Both kinds of ref name a visitor ID (a client ID stands for a derived one): one key space. */
const keyOf = (ref: VisitorRef) => ref.id;

export function createMemoryClickStore(records: ExpiringMap<VisitorClicks>): ClickStore {
  return {
    async save(refs, update, ttlMs) {
      for (const ref of refs) {
        const key = keyOf(ref);
        const known = records.get(key) ?? { clicks: [], refused: [] };
        const updated = new Set(update.clicks.map((c) => c.destination));
        // The same click ID seen again keeps its first capture time: it is the same click.
        const fresh = update.clicks.filter(
          (c) => !known.clicks.some((k) => k.destination === c.destination && k.clickId === c.clickId),
        );
        const merged: VisitorClicks = {
          clicks: newestPerDestination([...known.clicks, ...fresh], (c) => c.capturedAt),
          refused: [...known.refused.filter((r) => !updated.has(r.destination)), ...update.refused],
        };
        merged.refused = newestPerDestination(merged.refused, (r) => r.at);
        records.set(key, merged, Math.max(ttlMs, records.ttl(key)));
      }
    },
    async read(refs) {
      const found = refs.flatMap((ref) => {
        const record = records.get(keyOf(ref));
        return record ? [{ ...record, clicks: record.clicks.map((c) => ({ ...c, via: ref.kind })) }] : [];
      });
      return {
        clicks: newestPerDestination(found.flatMap((r) => r.clicks), (c) => c.capturedAt),
        refused: newestPerDestination(found.flatMap((r) => r.refused), (r) => r.at),
      };
    },
  };
}
