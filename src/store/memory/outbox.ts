import {
  NO_DEAD_JOB,
  type AcceptResult,
  type ClaimedJob,
  type ConversionJob,
  type DeadLetter,
  type JobState,
  type Outbox,
  type ReplayResult,
} from '../types.js';
import type { ExpiringMap } from './expiring-map.js';

interface JobRecord {
  job: ConversionJob;
  state: JobState;
  attempts: number;
  since: number;
  consumer: string;
  claimedAt: number;
  dueAt: number;
  dead?: { at: number; outcome: string; reason: string };
}

/**
 * The same outbox semantics as Redis, in process memory: nothing survives a restart, which the
 * relay says in its first log line when it runs on this store.
 */
export function createMemoryOutbox(
  dedup: ExpiringMap<string>,
  settled: ExpiringMap<JobState>,
  settledRetentionMs: number,
  deadLetterRetentionMs: number,
): Outbox & { stop(): void } {
  const jobs = new Map<string, JobRecord>();
  const queue: string[] = [];
  const inFlight = new Set<string>();
  const waiting = new Set<string>();
  const dead: string[] = []; // job IDs, oldest first
  let wake: (() => void) | undefined;

  function enqueue(jobId: string): void {
    queue.push(jobId);
    wake?.();
  }

  function hand(record: JobRecord, consumer: string): ClaimedJob {
    record.attempts += 1;
    record.consumer = consumer;
    record.claimedAt = Date.now();
    inFlight.add(record.job.id);
    return { job: record.job, attempt: record.attempts, since: record.since, receipt: record.job.id };
  }

  function take(consumer: string, max: number): ClaimedJob[] {
    const claimed: ClaimedJob[] = [];
    while (claimed.length < max && queue.length > 0) {
      const record = jobs.get(queue.shift()!);
      if (record) claimed.push(hand(record, consumer));
    }
    return claimed;
  }

  function register(job: ConversionJob, dedupKey: string, dedupTtlMs: number): void {
    dedup.set(dedupKey, `${job.id}|${job.acceptedAt}`, dedupTtlMs);
    jobs.set(job.id, { job, state: 'queued', attempts: 0, since: job.acceptedAt, consumer: '', claimedAt: 0, dueAt: 0 });
    enqueue(job.id);
  }

  return {
    async accept(job, dedupKey, dedupTtlMs): Promise<AcceptResult> {
      const first = dedup.get(dedupKey);
      if (first !== undefined) {
        const [firstJobId = '', at = '0'] = first.split('|');
        if (firstJobId === job.id) return { accepted: true };
        return { accepted: false, firstJobId, firstAcceptedAt: Number(at) };
      }
      register(job, dedupKey, dedupTtlMs);
      return { accepted: true };
    },

    async claim(consumer, max, waitMs) {
      const ready = take(consumer, max);
      if (ready.length > 0 || waitMs <= 0) return ready;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, waitMs);
        function done() {
          clearTimeout(timer);
          if (wake === done) wake = undefined;
          resolve();
        }
        wake = done;
      });
      return take(consumer, max);
    },

    async complete(claimed) {
      inFlight.delete(claimed.job.id);
      // Only the state outlives a settled job, for as long as Redis keeps a settled job's record.
      if (jobs.delete(claimed.job.id)) settled.set(claimed.job.id, 'settled', settledRetentionMs);
    },

    async deadLetter(claimed, outcome, reason, at) {
      inFlight.delete(claimed.job.id);
      const record = jobs.get(claimed.job.id);
      if (!record) return;
      record.state = 'dead';
      record.dead = { at, outcome, reason };
      dead.push(claimed.job.id);
      // As Redis trims its dead-letter stream as it adds to it: a long-lived instance whose
      // network refuses everything would otherwise keep every dead job for good.
      while (dead.length > 0 && (jobs.get(dead[0]!)?.dead?.at ?? 0) < at - deadLetterRetentionMs) {
        jobs.delete(dead.shift()!);
      }
    },

    async retryAt(claimed, dueAt, _outcome, countAttempt = true) {
      inFlight.delete(claimed.job.id);
      const record = jobs.get(claimed.job.id);
      if (!record) return;
      if (!countAttempt) record.attempts -= 1;
      record.state = 'retrying';
      record.dueAt = dueAt;
      waiting.add(claimed.job.id);
    },

    async promoteDue(now) {
      let moved = 0;
      for (const id of waiting) {
        const record = jobs.get(id);
        if (record && record.dueAt <= now) {
          waiting.delete(id);
          enqueue(id);
          moved += 1;
        }
      }
      return moved;
    },

    async reclaim(consumer, minIdleMs, max) {
      const now = Date.now();
      const stale = [...inFlight]
        .map((id) => jobs.get(id)!)
        .filter((r) => now - r.claimedAt >= minIdleMs)
        .slice(0, max);
      return stale.map((record) => hand(record, consumer));
    },

    async keepClaimed(consumer, receipts) {
      const now = Date.now();
      let kept = 0;
      for (const id of receipts) {
        const record = jobs.get(id);
        if (!record || !inFlight.has(id) || record.consumer !== consumer) continue;
        record.claimedAt = now;
        kept += 1;
      }
      return kept;
    },

    async backlog() {
      return queue.length + inFlight.size + waiting.size;
    },

    async deadLetters(limit) {
      const letters: DeadLetter[] = [];
      for (let i = dead.length - 1; i >= 0 && letters.length < limit; i--) {
        const record = jobs.get(dead[i]!);
        if (record?.dead) letters.push({ job: record.job, ...record.dead });
      }
      return letters;
    },

    async replay(selection, now) {
      const ids = new Set(selection.ids ?? []);
      if (selection.from !== undefined || selection.to !== undefined) {
        for (const id of dead) {
          const at = jobs.get(id)?.dead?.at ?? 0;
          if (at >= (selection.from ?? 0) && at <= (selection.to ?? Infinity)) ids.add(id);
        }
      }
      const result: ReplayResult = { replayed: [], skipped: [] };
      for (const id of ids) {
        const record = jobs.get(id);
        if (!record || record.state !== 'dead') {
          const state = record?.state ?? settled.get(id);
          result.skipped.push({ id, why: state ? `the job is ${state}, not dead` : NO_DEAD_JOB });
          continue;
        }
        dead.splice(dead.indexOf(id), 1);
        delete record.dead;
        Object.assign(record, { state: 'queued', attempts: 0, since: now });
        enqueue(id);
        result.replayed.push(id);
      }
      return result;
    },

    async state(jobId) {
      return jobs.get(jobId)?.state ?? settled.get(jobId);
    },

    async queuedJobIds() {
      return new Set([...queue, ...inFlight, ...waiting]);
    },

    async restore(job, dedupKey, dedupTtlMs) {
      if (jobs.has(job.id) || settled.get(job.id)) return 'known';
      const owner = dedup.get(dedupKey);
      if (owner !== undefined) return owner.startsWith(`${job.id}|`) ? 'known' : 'duplicate';
      register(job, dedupKey, dedupTtlMs);
      return 'restored';
    },

    stop() {
      wake?.();
    },
  };
}
