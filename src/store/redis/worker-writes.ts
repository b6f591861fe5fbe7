import type { RelayRedis } from './connection.js';
import { CONSUMER_GROUP, keys } from './keys.js';
import { createTurnBatch } from './turn-batch.js';

/** At most this many settles and log entries share one script call. */
export const MAX_WORKER_WRITES_PER_CALL = 128;

export interface WorkerWrites {
  /**
   * Acknowledges a job's stream entry and marks its record settled for `retentionMs`; with `mark`,
   * a job that had no record gets one of its state alone.
   */
  settle(jobId: string, receipt: string, outcome: string, now: number, retentionMs: number, mark: boolean): Promise<void>;
  /** Appends one entry to the postback log, a stream capped near `maxEntries`. */
  appendLog(maxEntries: number, entryJson: string): Promise<void>;
}

/**
 * The delivery worker's two writes per postback, its settle and its log entry, batched: the
 * postbacks answered in one event-loop turn share one script call (scripts.ts, workerWrites).
 * Sent one command each, ioredis spends more on framing and promises than Redis spends on the work,
 * and a busy worker settles thousands of postbacks a second.
 */
export function createWorkerWrites(worker: RelayRedis): WorkerWrites {
  const batch = createTurnBatch({
    max: MAX_WORKER_WRITES_PER_CALL,
    sharedKeys: [keys.outbox, keys.log],
    what: 'delivery write',
    // The worker's connection queues commands through a reconnect: a settle waits rather than fails.
    deadlineMs: false,
    send: (scriptKeys, args) => worker.workerWrites(scriptKeys.length, ...scriptKeys, ...args),
  });
  const done = () => undefined;
  return {
    settle(jobId, receipt, outcome, now, retentionMs, mark) {
      return batch({
        write(scriptKeys, args) {
          scriptKeys.push(keys.job(jobId));
          args.push('settle', receipt, CONSUMER_GROUP, outcome, now, retentionMs, mark ? '1' : '0');
        },
        read: done,
      });
    },
    appendLog(maxEntries, entryJson) {
      return batch({
        write(_scriptKeys, args) {
          args.push('log', maxEntries, entryJson);
        },
        read: done,
      });
    },
  };
}
