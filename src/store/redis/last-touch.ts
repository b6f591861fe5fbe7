import type { AcceptResult, GroupWinner, LastTouchAccepts, PreparedGroup, VisitorRef } from '../types.js';
import { decodeHashes, keyOf } from './clicks.js';
import type { RelayRedis } from './connection.js';
import { keys } from './keys.js';
import { acceptResultOf } from './outbox.js';
import { createTurnBatch } from './turn-batch.js';

/**
 * At most this many conversions share one script call: Redis runs a script alone, and 64 keep it
 * to about a millisecond.
 */
export const MAX_CONVERSIONS_PER_CALL = 64;

/**
 * Store.acceptLastTouch on Redis: the visitor's hashes are read, attributed and the winning jobs
 * accepted by one script call (scripts.ts, acceptLastTouch), so a conversion costs one round trip;
 * the conversions of one event-loop turn share the call (turn-batch.ts).
 */
export function createRedisLastTouch(redis: RelayRedis) {
  const batch = createTurnBatch({
    max: MAX_CONVERSIONS_PER_CALL,
    sharedKeys: [keys.outbox],
    what: 'outbox write',
    send: (scriptKeys, args) => redis.acceptLastTouch(scriptKeys.length, ...scriptKeys, ...args),
  });

  return function acceptLastTouch(
    refs: VisitorRef[],
    groups: PreparedGroup[],
    now: number,
    dedupTtlMs: number,
  ): Promise<LastTouchAccepts> {
    return batch({
      write(scriptKeys, args) {
        args.push(refs.length);
        for (const ref of refs) {
          args.push(ref.kind);
          scriptKeys.push(keyOf(ref));
        }
        args.push(now, Math.ceil(dedupTtlMs));
        for (const group of groups) {
          args.push(group.destinations.length, ...group.destinations, group.jobs.length);
          for (const job of group.jobs) {
            scriptKeys.push(keys.dedup(job.dedupKey), keys.job(job.jobId));
            args.push(job.destination, job.windowMs, job.withoutClick ? 1 : 0, job.jobId, job.jobHead);
          }
        }
      },
      read: (reply) => readAccepts(refs, groups, reply as ScriptReply),
    });
  };
}

/** One conversion's answer: its refs' hashes, its verdicts, its winners. */
type ScriptReply = Array<Array<string | number | null>>;

function readAccepts(refs: VisitorRef[], groups: PreparedGroup[], reply: ScriptReply): LastTouchAccepts {
  const verdicts = reply[refs.length]!;
  const winners = reply[refs.length + 1]!;
  const results = new Map<string, AcceptResult>();
  let settled = 0;
  for (const group of groups) {
    for (const job of group.jobs) {
      const verdict = verdicts[settled++];
      if (verdict === null || verdict === undefined) continue;
      results.set(job.destination, acceptResultOf(job.jobId, verdict === 1 ? null : String(verdict)));
    }
  }
  return {
    found: decodeHashes(refs, reply.slice(0, refs.length) as unknown as string[][]),
    winners: new Map(groups.map((group, i) => [group.name, decodeWinner(String(winners[i]))])),
    results,
  };
}

/** "repeated", then "|kind|capturedAt|destination|clickId" when the group had a click. */
function decodeWinner(text: string): GroupWinner {
  const [repeated, kind, at, destination] = text.split('|', 4);
  if (kind === undefined) return { click: undefined, repeated: repeated === '1' };
  const clickId = text.slice(repeated!.length + kind.length + at!.length + destination!.length + 4);
  return {
    click: { destination: destination!, clickId, capturedAt: Number(at), via: kind as VisitorRef['kind'] },
    repeated: repeated === '1',
  };
}
