import type { Logger } from '../../log.js';
import type { AcceptResult, ClaimedJob, ConversionJob, DeadLetter, JobState, Outbox, ReplayResult } from '../types.js';
import type { RedisConnections } from './connection.js';
import { withDeadline } from './deadline.js';
import { CONSUMER_GROUP, keys } from './keys.js';
import type { WorkerWrites } from './worker-writes.js';

/** A settled job stays readable this long, for the audit trail. */
export const SETTLED_JOB_RETENTION_MS = 7 * 86_400_000;
/** Dead letters older than this are trimmed from the dead-letter stream, and their jobs' records expire. */
export const DEAD_LETTER_RETENTION_MS = 90 * 86_400_000;
const PROMOTE_BATCH = 200;

type StreamEntry = [id: string, fields: string[]];

/**
 * An accept script's answer: null when it queued the job, else "firstJobId|acceptedAt" of the
 * conversion that holds the dedup key.
 */
export function acceptResultOf(jobId: string, holder: string | null): AcceptResult {
  if (holder === null) return { accepted: true };
  const [firstJobId = '', at = '0'] = holder.split('|');
  // Our own job ID back means the script ran before and its reply was lost: still accepted.
  if (firstJobId === jobId) return { accepted: true };
  return { accepted: false, firstJobId, firstAcceptedAt: Number(at) };
}

/**
 * The outbox on Redis Streams: a consumer group hands each job to one worker, a sorted set holds
 * jobs waiting for their next attempt, and a hash per job keeps its payload and state.
 */
export function createRedisOutbox(connections: RedisConnections, writes: WorkerWrites, log: Logger): Outbox {
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

  /** Loads a claimed batch's jobs, counting the attempt on each, in one script call. */
  async function loadClaimed(entries: StreamEntry[]): Promise<ClaimedJob[]> {
    const batch: Array<{ receipt: string; jobId: string }> = [];
    for (const [receipt, fields] of entries) {
      const jobId = fields[fields.indexOf('job') + 1];
      if (jobId) batch.push({ receipt, jobId });
    }
    if (batch.length === 0) return [];
    const loaded = await worker.loadClaimedJobs(batch.length, ...batch.map(({ jobId }) => keys.job(jobId)));
    const claimed: ClaimedJob[] = [];
    const closed: Array<Promise<void>> = [];
    try {
      for (let i = 0; i < batch.length; i++) {
        const { receipt, jobId } = batch[i]!;
        const payload = loaded[3 * i] as string | null;
        if (!payload) {
          // The job record is gone while its entry waited (deleted by hand, or evicted under an
          // allkeys-* policy; it has no TTL while queued): nothing to send. Closed in one call.
          log.error({ job_id: jobId }, 'outbox.job_missing');
          closed.push(writes.settle(jobId, receipt, 'missing', Date.now(), 1));
          continue;
        }
        const job = JSON.parse(payload) as ConversionJob;
        const since = loaded[3 * i + 1] as string | null;
        claimed.push({ job, attempt: Number(loaded[3 * i + 2]), since: since ? Number(since) : job.acceptedAt, receipt });
      }
    } finally {
      await Promise.all(closed);
    }
    return claimed;
  }

  async function notDeadReason(jobId: string): Promise<string> {
    const state = await withDeadline(request.hget(keys.job(jobId), 'state'), 'replay');
    return state ? `the job is ${state}, not dead` : 'no such job (or it expired)';
  }

  return {
    async accept(job: ConversionJob, dedupKey: string, dedupTtlMs: number, payload = JSON.stringify(job)): Promise<AcceptResult> {
      const first = await withDeadline(
        request.acceptConversion(
          keys.dedup(dedupKey), keys.job(job.id), keys.outbox,
          job.id, Math.ceil(dedupTtlMs), payload, job.acceptedAt,
        ),
        'outbox write',
      );
      return acceptResultOf(job.id, first);
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
      await writes.settle(claimed.job.id, claimed.receipt, outcome, Date.now(), SETTLED_JOB_RETENTION_MS);
    },

    async retryAt(claimed, dueAt, outcome, countAttempt = true) {
      await worker.retryJob(
        keys.outbox, keys.retry, keys.job(claimed.job.id), claimed.receipt, CONSUMER_GROUP, claimed.job.id,
        Math.round(dueAt), outcome, countAttempt ? 0 : -1,
      );
    },

    async deadLetter(claimed, outcome, reason, at) {
      await worker.deadLetterJob(
        keys.outbox, keys.dead, keys.job(claimed.job.id), claimed.receipt, CONSUMER_GROUP, claimed.job.id,
        outcome, reason, at, `${Math.max(0, at - DEAD_LETTER_RETENTION_MS)}-0`, DEAD_LETTER_RETENTION_MS,
      );
    },

    async deadLetters(limit) {
      const entries = (await withDeadline(request.xrevrange(keys.dead, '+', '-', 'COUNT', limit), 'dead letters')) as StreamEntry[];
      const letters: DeadLetter[] = [];
      for (const [, fields] of entries) {
        const jobId = fields[fields.indexOf('job') + 1]!;
        const [payload, outcome, reason, deadAt] = await withDeadline(
          request.hmget(keys.job(jobId), 'job', 'outcome', 'reason', 'deadAt'),
          'dead letters',
        );
        if (!payload) continue;
        letters.push({ job: JSON.parse(payload) as ConversionJob, at: Number(deadAt), outcome: outcome ?? '', reason: reason ?? '' });
      }
      return letters;
    },

    async replay(selection, now) {
      const ids = new Set(selection.ids ?? []);
      if (selection.from !== undefined || selection.to !== undefined) {
        const from = selection.from !== undefined ? String(selection.from) : '-';
        const to = selection.to !== undefined ? String(selection.to) : '+';
        const entries = (await withDeadline(request.xrange(keys.dead, from, to), 'replay')) as StreamEntry[];
        for (const [, fields] of entries) ids.add(fields[fields.indexOf('job') + 1]!);
      }
      const result: ReplayResult = { replayed: [], skipped: [] };
      for (const id of ids) {
        const queued = await withDeadline(request.replayJob(keys.job(id), keys.outbox, keys.dead, id, now), 'replay');
        if (queued === 1) result.replayed.push(id);
        else result.skipped.push({ id, why: await notDeadReason(id) });
      }
      return result;
    },

    async state(jobId) {
      return ((await worker.hget(keys.job(jobId), 'state')) ?? undefined) as JobState | undefined;
    },

    async restore(job, dedupKey, dedupTtlMs) {
      return worker.restoreJob(
        keys.dedup(dedupKey), keys.job(job.id), keys.outbox, job.id, Math.ceil(dedupTtlMs), JSON.stringify(job), job.acceptedAt,
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

    async keepClaimed(consumer, receipts) {
      if (receipts.length === 0) return 0;
      return worker.keepClaimed(keys.outbox, CONSUMER_GROUP, consumer, ...receipts);
    },

    // What an operator or a scrape asks goes over the fail-fast connection: an outage answers 503, never hangs.
    async backlog() {
      const [queued, waiting] = await withDeadline(Promise.all([request.xlen(keys.outbox), request.zcard(keys.retry)]), 'backlog');
      return queued + waiting;
    },
  };
}
