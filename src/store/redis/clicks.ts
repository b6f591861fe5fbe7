import {
  newestPerDestination,
  type ClickStore,
  type FoundClicks,
  type RefusedClick,
  type FoundClick,
  type VisitorClicks,
  type VisitorRef,
} from '../types.js';
import type { RelayRedis } from './connection.js';
import { withDeadline } from './deadline.js';
import { keys } from './keys.js';
import { createTurnBatch } from './turn-batch.js';

/** At most this many visitor hashes are saved by one script call. */
export const MAX_SAVES_PER_CALL = 64;

/** A refusal is kept under its destination's name with this mark in front. */
const REFUSED = '!';

/** Both kinds of ref name a visitor ID (a client ID stands for a derived one): one key space. */
export const keyOf = (ref: VisitorRef) => keys.visitor(ref.id);

/**
 * One small hash per visitor: field = destination, value = "capturedAtMs|clickId"; a refused
 * landing as "!destination" = "atMs|reason". Click IDs may contain "|", so only the first one splits.
 */
export function createRedisClickStore(redis: RelayRedis): ClickStore {
  // The landings of one event-loop turn share a script call, as conversions do.
  const batch = createTurnBatch({
    max: MAX_SAVES_PER_CALL,
    what: 'click store write',
    send: (hashes, args) => redis.saveVisitorClicks(hashes.length, ...hashes, ...args),
  });
  return {
    async save(refs, update, ttlMs) {
      const args = encodeUpdate(update);
      const ttl = Math.ceil(ttlMs);
      await Promise.all(refs.map((ref) => batch({
        write(hashes, segment) {
          hashes.push(keyOf(ref));
          segment.push(ttl, ...args);
        },
        read: () => undefined,
      })));
    },
    async read(refs) {
      const hashes = await withDeadline(Promise.all(refs.map((ref) => redis.hgetall(keyOf(ref)))), 'click store read');
      return decodeHashes(refs, hashes);
    },
  };
}

/**
 * What the refs' hashes hold, newest per destination. A hash comes as an object from HGETALL, or
 * as its flat field/value list from a script.
 */
export function decodeHashes(refs: readonly VisitorRef[], hashes: ReadonlyArray<Record<string, string> | string[]>): FoundClicks {
  const clicks: FoundClick[] = [];
  const refused: RefusedClick[] = [];
  hashes.forEach((hash, i) => {
    const via = refs[i]!.kind;
    if (Array.isArray(hash)) {
      for (let f = 0; f < hash.length; f += 2) decodeField(hash[f]!, hash[f + 1]!, via, clicks, refused);
    } else {
      for (const field in hash) decodeField(field, hash[field]!, via, clicks, refused);
    }
  });
  return {
    clicks: newestPerDestination(clicks, (c) => c.capturedAt),
    refused: newestPerDestination(refused, (r) => r.at),
  };
}

function encodeUpdate(update: VisitorClicks): Array<string | number> {
  const pairs: string[] = [];
  for (const c of update.clicks) pairs.push(c.destination, `${c.capturedAt}|${c.clickId}`);
  for (const r of update.refused) pairs.push(REFUSED + r.destination, `${r.at}|${r.reason}`);
  // A new valid click makes an earlier refusal for the same destination irrelevant.
  const cleared = update.clicks.map((c) => REFUSED + c.destination);
  return [pairs.length / 2, ...pairs, ...cleared];
}

/** The relay writes capture times as epoch milliseconds; anything else is not a click it stored. */
const EPOCH_MS = /^\d{1,15}$/;

function decodeField(field: string, value: string, via: VisitorRef['kind'], clicks: FoundClick[], refused: RefusedClick[]): void {
  const bar = value.indexOf('|');
  if (bar < 0 || !EPOCH_MS.test(value.slice(0, bar))) return;
  const at = Number(value.slice(0, bar));
  const rest = value.slice(bar + 1);
  if (field.startsWith(REFUSED)) refused.push({ destination: field.slice(1), at, reason: rest });
  else clicks.push({ destination: field, clickId: rest, capturedAt: at, via });
}
