import { StoreUnavailableError } from '../../errors.js';
import { withDeadline } from './deadline.js';
import type { ScriptArg } from './scripts.js';

/** One caller's part of a batched script call, and how its answer is read. */
export interface Segment<T> {
  /** Appends this part's keys and arguments (the batch adds the counts in front). */
  write(keys: string[], args: ScriptArg[]): void;
  /** Its answer; a throw fails this caller alone. */
  read(reply: unknown): T;
}

export interface TurnBatchOptions {
  /** At most this many segments per call: Redis runs a script alone. */
  max: number;
  /** Keys every call starts with (KEYS[1]...), before the segments' own. */
  sharedKeys?: readonly string[];
  /** Names the call in a deadline's or a failure's message. */
  what: string;
  /**
   * Give up on a call after this long (withDeadline); the request path's default. `false` for the
   * delivery worker, whose connection waits out a reconnect rather than drop its writes.
   */
  deadlineMs?: number | false;
  send(keys: string[], args: ScriptArg[]): Promise<unknown>;
}

/**
 * Calls of one script made in one event-loop turn, sent as a single command, for scripts written
 * to take segments: per segment, the count of its arguments, the count of its keys, then its own
 * arguments (the scripts in scripts.ts that say so). Each command costs ioredis a command object,
 * framing, a promise and a reply to decode, and Redis a command to parse and a script to set up: a
 * busy relay would otherwise pay that per conversion or landing. The wait is the rest of the turn.
 * A segment answered ["error", message] fails alone; a failed call fails its segments.
 */
export function createTurnBatch(options: TurnBatchOptions) {
  const shared = options.sharedKeys ?? [];
  let keys: string[] = [...shared];
  let args: ScriptArg[] = [];
  let waiting: Array<{ read: (reply: unknown) => unknown; resolve: (value: never) => void; reject: (err: Error) => void }> = [];

  function send(): void {
    if (waiting.length === 0) return;
    const batch = waiting;
    // In a promise, so that a command that throws rejects its batch instead of the process.
    const call = new Promise<unknown>((resolve) => resolve(options.send(keys, args)));
    keys = [...shared];
    args = [];
    waiting = [];
    (options.deadlineMs === false ? call : withDeadline(call, options.what, options.deadlineMs)).then(
      (replies) => {
        batch.forEach((segment, i) => {
          const reply = Array.isArray(replies) ? replies[i] : undefined;
          try {
            if (reply === undefined || (Array.isArray(reply) && reply[0] === 'error')) {
              throw new Error(reply === undefined ? 'no answer for it' : String(reply[1]));
            }
            segment.resolve(segment.read(reply) as never);
          } catch (err) {
            segment.reject(new StoreUnavailableError(`${options.what} failed: ${(err as Error).message}`));
          }
        });
      },
      (err: Error) => {
        for (const segment of batch) segment.reject(err);
      },
    );
  }

  return function add<T>(segment: Segment<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (waiting.length === 0) setImmediate(send);
      const countAt = args.length;
      const keyCount = keys.length;
      args.push(0, 0);
      segment.write(keys, args);
      args[countAt] = args.length - countAt - 1;
      args[countAt + 1] = keys.length - keyCount;
      waiting.push({ read: segment.read, resolve: resolve as (value: never) => void, reject });
      if (waiting.length >= options.max) send();
    });
  };
}
