import { StoreUnavailableError } from '../../errors.js';
import type { AcceptResult, GroupWinner, LastTouchAccepts, PreparedGroup, VisitorRef } from '../types.js';
import { decodeHashes, keyOf } from './clicks.js';
import type { RelayRedis } from './connection.js';
import { withDeadline } from './deadline.js';
import { keys } from './keys.js';
import { acceptResultOf } from './outbox.js';
import type { ScriptArg } from './scripts.js';

/**
 * At most this many conversions share one script call: Redis runs a script alone, and 64 keep it
 * to about a millisecond.
 */
export const MAX_CONVERSIONS_PER_CALL = 64;

interface Waiting {
  refs: VisitorRef[];
  groups: PreparedGroup[];
  resolve: (accepts: LastTouchAccepts) => void;
  reject: (err: Error) => void;
}

/**
 * Store.acceptLastTouch on Redis: the visitor's hashes are read, attributed and the winning jobs
 * accepted by one script call (scripts.ts, acceptLastTouch), so a conversion costs one round trip.
 * The conversions of one event-loop turn share the call: each command costs Redis and ioredis a
 * fixed price (parsing, a script's setup, a promise, a reply) that a busy relay would otherwise
 * pay per conversion. The wait is the rest of the turn.
 */
export function createRedisLastTouch(redis: RelayRedis) {
  let scriptKeys: string[] = [keys.outbox];
  let args: ScriptArg[] = [];
  let waiting: Waiting[] = [];

  function send(): void {
    if (waiting.length === 0) return;
    const batch = waiting;
    // In a promise, so that a command that throws rejects its batch instead of the process.
    const call = new Promise<unknown[]>((resolve) => resolve(redis.acceptLastTouch(scriptKeys.length, ...scriptKeys, ...args)));
    scriptKeys = [keys.outbox];
    args = [];
    waiting = [];
    withDeadline(call, 'outbox write').then(
      (replies) => {
        batch.forEach((conversion, i) => {
          try {
            settle(conversion, replies[i] as ScriptReply | undefined);
          } catch (err) {
            // A reply the relay cannot read fails its own conversion, not the others of the call.
            conversion.reject(new StoreUnavailableError(`outbox write answered unreadably: ${(err as Error).message}`));
          }
        });
      },
      (err: Error) => {
        for (const conversion of batch) conversion.reject(err);
      },
    );
  }

  return function acceptLastTouch(
    refs: VisitorRef[],
    groups: PreparedGroup[],
    now: number,
    dedupTtlMs: number,
  ): Promise<LastTouchAccepts> {
    return new Promise((resolve, reject) => {
      if (waiting.length === 0) setImmediate(send);
      const countAt = args.length;
      const keyCount = scriptKeys.length;
      args.push(0, 0, refs.length);
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
      args[countAt] = args.length - countAt - 1;
      args[countAt + 1] = scriptKeys.length - keyCount;
      waiting.push({ refs, groups, resolve, reject });
      if (waiting.length >= MAX_CONVERSIONS_PER_CALL) send();
    });
  };
}

/** One conversion's answer: its refs' hashes, its verdicts, its winners; or ["error", message]. */
type ScriptReply = Array<Array<string | number | null> | string>;

function settle({ refs, groups, resolve, reject }: Waiting, reply: ScriptReply | undefined): void {
  if (!reply || reply[0] === 'error') {
    reject(new StoreUnavailableError(`outbox write failed: ${reply ? String(reply[1]) : 'no answer for this conversion'}`));
    return;
  }
  const verdicts = reply[refs.length] as Array<string | number | null>;
  const winners = reply[refs.length + 1] as Array<string | number | null>;
  const results = new Map<string, AcceptResult>();
  let settled = 0;
  for (const group of groups) {
    for (const job of group.jobs) {
      const verdict = verdicts[settled++];
      if (verdict === null || verdict === undefined) continue;
      results.set(job.destination, acceptResultOf(job.jobId, verdict === 1 ? null : String(verdict)));
    }
  }
  resolve({
    found: decodeHashes(refs, reply.slice(0, refs.length) as string[][]),
    winners: new Map(groups.map((group, i) => [group.name, decodeWinner(String(winners[i]))])),
    results,
  });
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
