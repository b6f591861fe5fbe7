import { StoreUnavailableError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { AcceptResult, ClaimedJob, ConversionJob, Outbox } from '../types.js';
import type { RedisConnections } from './connection.js';
import { CONSUMER_GROUP, keys } from './keys.js';

/** A settled job stays readable this long, for the audit trail and replays. */
export const SETTLED_JOB_RETENTION_MS = 7 * 86_400_000;
const PROMOTE_BATCH = 200;

type StreamEntry = [id: string, fields: string[]];

/**
 * The outbox on Redis Streams: a consumer group hands each job to one worker, a sorted set holds
 * jobs waiting for their next attempt, and a hash per job keeps its payload and state.
 */
export function createRedisOutbox(connections: RedisConnections, log: Logger): Outbox {
  const { request, worker, blocking } = connections;
  let groupReady = false;

  async function ensureGroup(): Promise<void> {
    if (groupReady) return;
    try {
      // From "0": entries queued before the group existed (or before a restart) are still delivered.
      await worker.xgroup('CREATE', keys.outbox, CONSUMER_GROUP, '0', 'MKSTREAM');
    } catch (err) {
      if (!String((err as Error).message).includes('BUSYGROUP')) throw err;
    }
    groupReady = true;
  }

  async function loadClaimed(entries: StreamEntry[]): Promise<ClaimedJob[]> {
    const claimed: ClaimedJob[] = [];
    for (const [receipt, fields] of entries) {
      const jobId = fields[fields.indexOf('job') + 1];
      if (!jobId) continue;
      const jobKey = keys.job(jobId);
      const [payload, attempts] = await Promise.all([worker.hget(jobKey, 'job'), worker.hincrby(jobKey, 'attempts', 1)]);
      if (!payload) {
        // The job record expired while its entry waited (far past any retry age): nothing to send.
        log.error({ job_id: jobId }, 'outbox.job_missing');
        await worker.completeJob(keys.outbox, jobKey, receipt, CONSUMER_GROUP, 'missing', Date.now(), 1);
        continue;
      }
      claimed.push({ job: JSON.parse(payload) as ConversionJob, attempt: attempts, receipt });
    }
    return claimed;
  }

  return {
    async accept(job: ConversionJob, dedupKey: string, dedupTtlMs: number): Promise<AcceptResult> {
      let first: string | null;
      try {
        first = await request.acceptConversion(
          keys.dedup(dedupKey), keys.job(job.id), keys.outbox,
          job.id, Math.ceil(dedupTtlMs), JSON.stringify(job), job.acceptedAt,
        );
      } catch (err) {
        throw new StoreUnavailableError(`outbox write failed: ${(err as Error).message}`);
      }
      if (first === null) return { accepted: true };
      const [firstJobId = '', at = '0'] = first.split('|');
      // Our own job ID back means the script ran before and its reply was lost: still accepted.
      if (firstJobId === job.id) return { accepted: true };
      return { accepted: false, firstJobId, firstAcceptedAt: Number(at) };
    },

    async claim(consumer, max, waitMs) {
      await ensureGroup();
      let reply: Array<[string, StreamEntry[]]> | null;
      try {
        reply = (await blocking.xreadgroup(
          'GROUP', CONSUMER_GROUP, consumer, 'COUNT', max, 'BLOCK', Math.max(1, waitMs),
          'STREAMS', keys.outbox, '>',
        )) as Array<[string, StreamEntry[]]> | null;
      } catch (err) {
        // The stream (and its group) vanished, e.g. a Redis restart without persistence.
        if (String((err as Error).message).includes('NOGROUP')) groupReady = false;
        throw err;
      }
      if (!reply || reply.length === 0) return [];
      return loadClaimed(reply[0]![1]);
    },

    async complete(claimed, outcome) {
      await worker.completeJob(
        keys.outbox, keys.job(claimed.job.id), claimed.receipt, CONSUMER_GROUP, outcome, Date.now(),
        SETTLED_JOB_RETENTION_MS,
      );
    },

    async retryAt(claimed, dueAt, outcome) {
      await worker.retryJob(
        keys.outbox, keys.retry, keys.job(claimed.job.id), claimed.receipt, CONSUMER_GROUP, claimed.job.id,
        Math.round(dueAt), outcome,
      );
    },

    async promoteDue(now) {
      return worker.promoteDue(keys.retry, keys.outbox, now, PROMOTE_BATCH);
    },

    async reclaim(consumer, minIdleMs, max) {
      await ensureGroup();
      const reply = (await worker.xautoclaim(
        keys.outbox, CONSUMER_GROUP, consumer, minIdleMs, '0-0', 'COUNT', max,
      )) as [string, StreamEntry[], string[]];
      const entries = reply[1].filter((entry): entry is StreamEntry => Array.isArray(entry) && entry[1] !== null);
      return loadClaimed(entries);
    },

    async backlog() {
      const [queued, waiting] = await Promise.all([worker.xlen(keys.outbox), worker.zcard(keys.retry)]);
      return queued + waiting;
    },
  };
}
