import type { AcceptResult, GroupWinner, LastTouchAccepts, PreparedGroup, VisitorRef } from '../types.js';
import { decodeHashes, keyOf } from './clicks.js';
import type { RelayRedis } from './connection.js';
import { keys } from './keys.js';
import { acceptResultOf } from './outbox.js';
import type { ScriptArg } from './scripts.js';
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
  const shapes = createShapeTable();

  return function acceptLastTouch(
    refs: VisitorRef[],
    groups: PreparedGroup[],
    now: number,
    dedupTtlMs: number,
  ): Promise<LastTouchAccepts> {
    return batch({
      write(scriptKeys, args) {
        for (const ref of refs) scriptKeys.push(keyOf(ref));
        shapes.write(args, { refs, groups, ttl: Math.ceil(dedupTtlMs) });
        args.push(now);
        for (const group of groups) {
          for (const job of group.jobs) {
            scriptKeys.push(keys.dedup(job.dedupKey));
            args.push(job.jobId, job.jobHead);
          }
        }
      },
      read: (reply) => readAccepts(refs, groups, reply as ScriptReply),
    });
  };
}

/**
 * What a conversion's arguments share with others of its configuration: its refs' kinds, the
 * dedup TTL, its groups' destinations and its jobs' destinations, windows and whether they take a
 * conversion without a click. Most conversions of a call share one, so a call defines each shape
 * once and its other conversions name it: 6 arguments a conversion instead of 14, and Redis works
 * out the groups' places once.
 */
interface Shape {
  refs: readonly VisitorRef[];
  groups: readonly PreparedGroup[];
  ttl: number;
}

/**
 * The shapes the call being written has defined, in order. A conversion's arguments start with
 * its shape's number in the call, or 0 and the shape's definition where it is the first of it.
 */
function createShapeTable() {
  // turn-batch.ts starts each call with a new argument list.
  let call: ScriptArg[] | undefined;
  let defined: Shape[] = [];
  return {
    write(args: ScriptArg[], shape: Shape): void {
      if (args !== call) {
        call = args;
        defined = [];
      }
      const known = defined.findIndex((other) => sameShape(other, shape));
      if (known >= 0) {
        args.push(known + 1);
        return;
      }
      defined.push(shape);
      args.push(0, shape.ttl, shape.refs.length);
      for (const ref of shape.refs) args.push(ref.kind);
      args.push(shape.groups.length);
      for (const group of shape.groups) {
        args.push(group.destinations.length, ...group.destinations, group.jobs.length);
        for (const job of group.jobs) args.push(job.destination, job.windowMs, job.withoutClick ? 1 : 0);
      }
    },
  };
}

function sameShape(a: Shape, b: Shape): boolean {
  if (a.ttl !== b.ttl || a.refs.length !== b.refs.length || a.groups.length !== b.groups.length) return false;
  for (let r = 0; r < a.refs.length; r++) if (a.refs[r]!.kind !== b.refs[r]!.kind) return false;
  for (let g = 0; g < a.groups.length; g++) {
    const one = a.groups[g]!;
    const other = b.groups[g]!;
    if (one.jobs.length !== other.jobs.length || !sameList(one.destinations, other.destinations)) return false;
    for (let j = 0; j < one.jobs.length; j++) {
      const job = one.jobs[j]!;
      const otherJob = other.jobs[j]!;
      if (job.destination !== otherJob.destination || job.windowMs !== otherJob.windowMs || job.withoutClick !== otherJob.withoutClick) return false;
    }
  }
  return true;
}

/** Equal lists; a configuration's groups share one list, so this is most often the first test. */
function sameList(a: readonly string[], b: readonly string[]): boolean {
  if (a === b) return true;
  return a.length === b.length && a.every((item, i) => item === b[i]);
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
