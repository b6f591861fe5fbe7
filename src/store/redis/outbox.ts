import type { Logger } from '../../log.js';
import { NO_DEAD_JOB, type AcceptResult, type ClaimedJob, type ConversionJob, type DeadLetter, type JobState, type Outbox, type ReplayResult } from '../types.js';
import type { RedisConnections } from './connection.js';
import { withDeadline } from './deadline.js';
import { CONSUMER_GROUP, keys } from './keys.js';
import type { WorkerWrites } from './worker-writes.js';

/** A settled job stays readable this long, for the audit trail. */
export const SETTLED_JOB_RETENTION_MS = 7 * 86_400_000;
/** Dead letters older than this are trimmed from the dead-letter stream, and their jobs' records expire. */
export const DEAD_LETTER_RETENTION_MS = 90 * 86_400_000;
/** Jobs moved a call: retries come due, and a version before's queue is adopted, this many at a time. */
const PROMOTE_BATCH = 200;
/** The consumer that moves a version before's entries: each is moved in the call that reads it. */
const LEGACY_CONSUMER = 'adopter';
/** Stream entries read a page at a time when the queued jobs are listed. */
const QUEUED_PAGE = 1_000;

type StreamEntry = [id: string, fields: string[]];

function parseJob(text: string): ConversionJob | undefined {
  try {
    return JSON.parse(text) as ConversionJob;
  } catch {
    return undefined;
  }
}

/**
 * An accept script's answer: null when it queued the job, else what the dedup key holds:
 * "firstJobId|acceptedAt", then "|entryId" (its outbox entry) where the key was set since entries
 * carry their jobs.
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
 * jobs waiting for their next attempt, and a job that leaves the common path (a retry, a dead
 * letter, its settling) gets a hash of its payload and state. A queued job is its stream entry
 * alone, with its JSON: see scripts.ts.
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

  /**
   * A claimed batch's jobs. An entry with its job's JSON is that job's attempt number `delivered`
   * (the stream's count of deliveries: 1 for a first claim); an entry without one, a job back from
   * a retry or a replay, is loaded from its record, counting the attempt there, in one script call.
   */
  async function loadClaimed(entries: StreamEntry[], delivered: (receipt: string) => number): Promise<ClaimedJob[]> {
    const claimed: ClaimedJob[] = [];
    const fromRecords: Array<{ receipt: string; jobId: string }> = [];
    const closed: Array<Promise<void>> = [];
    // A job that cannot be sent is logged and its entry closed (one call for all), never left to be
    // claimed for ever.
    const close = (jobId: string, receipt: string, outcome: 'missing' | 'unreadable') => {
      log.error({ job_id: jobId }, `outbox.job_${outcome}`);
      closed.push(writes.settle(jobId, receipt, outcome, Date.now(), 1, false));
    };
    try {
      for (const [receipt, fields] of entries) {
        // Fields as written: 'job', its ID, then 'body', its JSON, where the entry carries it.
        const jobId = fields[1];
        if (!jobId) continue;
        const body = fields[3];
        if (body === undefined) {
          fromRecords.push({ receipt, jobId });
          continue;
        }
        const job = parseJob(body);
        if (job) claimed.push({ job, attempt: delivered(receipt), since: job.acceptedAt, receipt });
        else close(jobId, receipt, 'unreadable');
      }
      if (fromRecords.length === 0) return claimed;
      const loaded = await worker.loadClaimedJobs(
        fromRecords.length + 1,
        keys.retry, ...fromRecords.map(({ jobId }) => keys.job(jobId)), ...fromRecords.map(({ jobId }) => jobId),
      );
      const stale: string[] = [];
      for (let i = 0; i < fromRecords.length; i++) {
        const { receipt, jobId } = fromRecords[i]!;
        const payload = loaded[3 * i] as string | null;
        if (Number(loaded[3 * i + 2]) < 0) {
          // Finished by a worker of a version before after its entry was adopted: the record says
          // how; the entry alone is closed, and nothing sent.
          log.warn({ job_id: jobId }, 'outbox.entry_stale');
          stale.push(receipt);
          continue;
        }
        // The record is gone while its entry waited (deleted by hand, or evicted under an
        // allkeys-* policy; it has no TTL while its job is to be sent): nothing to send.
        const job = payload ? parseJob(payload) : undefined;
        if (!job) {
          close(jobId, receipt, payload ? 'unreadable' : 'missing');
          continue;
        }
        const since = loaded[3 * i + 1] as string | null;
        claimed.push({ job, attempt: Number(loaded[3 * i + 2]), since: since ? Number(since) : job.acceptedAt, receipt });
      }
      if (stale.length > 0) closed.push(worker.xack(keys.outbox, CONSUMER_GROUP, ...stale).then(() => worker.xdel(keys.outbox, ...stale)).then(() => undefined));
      return claimed;
    } finally {
      await Promise.all(closed);
    }
  }

  /**
   * Moves the jobs a version before queued (keys.ts, legacyOutbox) into the outbox, to be claimed:
   * those not yet delivered, and with `minIdleMs` those its stopped workers left claimed.
   */
  async function adoptLegacyJobs(minIdleMs: string): Promise<number> {
    try {
      const adopted = await worker.adoptLegacyJobs(keys.legacyOutbox, keys.outbox, CONSUMER_GROUP, LEGACY_CONSUMER, minIdleMs, PROMOTE_BATCH);
      if (adopted > 0) log.info({ jobs: adopted }, 'outbox.legacy_jobs_adopted');
      return adopted;
    } catch (err) {
      // A failing move (the old key of another type, an ACL) must not stop this version's deliveries.
      log.error({ err: (err as Error).message }, 'outbox.legacy_adoption_failed');
      return 0;
    }
  }

  async function notDeadReason(jobId: string): Promise<string> {
    const state = await withDeadline(request.hget(keys.job(jobId), 'state'), 'replay');
    return state ? `the job is ${state}, not dead` : NO_DEAD_JOB;
  }

  return {
    async accept(job: ConversionJob, dedupKey: string, dedupTtlMs: number, payload = JSON.stringify(job)): Promise<AcceptResult> {
      const first = await withDeadline(
        request.acceptConversion(keys.dedup(dedupKey), keys.outbox, job.id, Math.ceil(dedupTtlMs), payload, job.acceptedAt),
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
      // Read past the group's last delivered entry: each one's first delivery.
      return loadClaimed(reply[0]![1], () => 1);
    },

    async complete(claimed, outcome) {
      await writes.settle(claimed.job.id, claimed.receipt, outcome, Date.now(), SETTLED_JOB_RETENTION_MS, true);
    },

    async retryAt(claimed, dueAt, outcome, countAttempt = true) {
      await worker.retryJob(
        keys.outbox, keys.retry, keys.job(claimed.job.id), claimed.receipt, CONSUMER_GROUP, claimed.job.id,
        Math.round(dueAt), outcome, countAttempt ? claimed.attempt : claimed.attempt - 1, JSON.stringify(claimed.job),
      );
    },

    async deadLetter(claimed, outcome, reason, at) {
      await worker.deadLetterJob(
        keys.outbox, keys.dead, keys.job(claimed.job.id), claimed.receipt, CONSUMER_GROUP, claimed.job.id,
        outcome, reason, at, `${Math.max(0, at - DEAD_LETTER_RETENTION_MS)}-0`, DEAD_LETTER_RETENTION_MS,
        JSON.stringify(claimed.job),
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

    async queuedJobIds() {
      const ids = new Set<string>();
      for (const stream of [keys.outbox, keys.legacyOutbox]) {
        for (let from = '-'; ;) {
          const entries = (await worker.xrange(stream, from, '+', 'COUNT', QUEUED_PAGE)) as StreamEntry[];
          for (const [, fields] of entries) if (fields[1]) ids.add(fields[1]);
          if (entries.length < QUEUED_PAGE) break;
          from = `(${entries[entries.length - 1]![0]}`;
        }
      }
      for (const id of await worker.zrange(keys.retry, '0', '-1')) ids.add(id);
      return ids;
    },

    async restore(job, dedupKey, dedupTtlMs) {
      return worker.restoreJob(
        keys.dedup(dedupKey), keys.job(job.id), keys.outbox, job.id, Math.ceil(dedupTtlMs), JSON.stringify(job), job.acceptedAt,
      );
    },

    async promoteDue(now) {
      const [due, adopted] = await Promise.all([
        worker.promoteDue(keys.retry, keys.outbox, now, PROMOTE_BATCH),
        adoptLegacyJobs('-'),
      ]);
      return due + adopted;
    },

    async reclaim(consumer, minIdleMs, max) {
      await ensureGroup();
      await adoptLegacyJobs(String(Math.round(minIdleMs)));
      const reply = (await worker.xautoclaim(
        keys.outbox, CONSUMER_GROUP, consumer, minIdleMs, '0-0', 'COUNT', max,
      )) as [string, StreamEntry[], string[]];
      const entries = reply[1].filter((entry): entry is StreamEntry => Array.isArray(entry) && entry[1] !== null);
      // Taken over: XAUTOCLAIM counted one more delivery of each, which its pending entry tells. An
      // entry no longer pending was settled by its first worker in between: not sent again.
      const deliveries = new Map(await Promise.all(entries.map(async ([receipt]) => {
        const pending = (await worker.xpending(keys.outbox, CONSUMER_GROUP, receipt, receipt, 1, consumer)) as Array<[string, string, number, number]>;
        return [receipt, pending[0]?.[3]] as const;
      })));
      return loadClaimed(entries.filter(([receipt]) => deliveries.get(receipt) !== undefined), (receipt) => deliveries.get(receipt)!);
    },

    async keepClaimed(consumer, receipts) {
      if (receipts.length === 0) return 0;
      return worker.keepClaimed(keys.outbox, CONSUMER_GROUP, consumer, ...receipts);
    },

    // What an operator or a scrape asks goes over the fail-fast connection: an outage answers 503, never hangs.
    async backlog() {
      const [queued, waiting, legacy] = await withDeadline(
        Promise.all([request.xlen(keys.outbox), request.zcard(keys.retry), request.xlen(keys.legacyOutbox)]),
        'backlog',
      );
      return queued + waiting + legacy;
    },
  };
}
