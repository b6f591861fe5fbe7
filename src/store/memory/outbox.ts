import type { AcceptResult, ClaimedJob, ConversionJob, Outbox } from '../types.js';
import type { ExpiringMap } from './expiring-map.js';

interface Delivery {
  job: ConversionJob;
  attempts: number;
  consumer: string;
  claimedAt: number;
}

/**
 * The same outbox semantics as Redis, in process memory: nothing survives a restart, which the
 * relay says in its first log line when it runs on this store.
 */
export function createMemoryOutbox(dedup: ExpiringMap<string>): Outbox & { stop(): void } {
  const jobs = new Map<string, Delivery>();
  const queue: string[] = [];
  const inFlight = new Map<string, Delivery>();
  const waiting = new Map<string, number>(); // jobId → dueAt
  let wake: (() => void) | undefined;

  function enqueue(jobId: string): void {
    queue.push(jobId);
    wake?.();
  }

  function take(consumer: string, max: number): ClaimedJob[] {
    const claimed: ClaimedJob[] = [];
    while (claimed.length < max && queue.length > 0) {
      const id = queue.shift()!;
      const delivery = jobs.get(id);
      if (!delivery) continue;
      delivery.attempts += 1;
      delivery.consumer = consumer;
      delivery.claimedAt = Date.now();
      inFlight.set(id, delivery);
      claimed.push({ job: delivery.job, attempt: delivery.attempts, receipt: id });
    }
    return claimed;
  }

  return {
    async accept(job, dedupKey, dedupTtlMs): Promise<AcceptResult> {
      const first = dedup.get(dedupKey);
      if (first !== undefined) {
        const [firstJobId = '', at = '0'] = first.split('|');
        if (firstJobId === job.id) return { accepted: true };
        return { accepted: false, firstJobId, firstAcceptedAt: Number(at) };
      }
      dedup.set(dedupKey, `${job.id}|${job.acceptedAt}`, dedupTtlMs);
      jobs.set(job.id, { job, attempts: 0, consumer: '', claimedAt: 0 });
      enqueue(job.id);
      return { accepted: true };
    },

    async claim(consumer, max, waitMs) {
      const now = take(consumer, max);
      if (now.length > 0 || waitMs <= 0) return now;
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
      jobs.delete(claimed.job.id);
    },

    async retryAt(claimed, dueAt) {
      inFlight.delete(claimed.job.id);
      waiting.set(claimed.job.id, dueAt);
    },

    async promoteDue(now) {
      let moved = 0;
      for (const [id, dueAt] of waiting) {
        if (dueAt <= now) {
          waiting.delete(id);
          enqueue(id);
          moved += 1;
        }
      }
      return moved;
    },

    async reclaim(consumer, minIdleMs, max) {
      const stale = [...inFlight.entries()].filter(([, d]) => Date.now() - d.claimedAt >= minIdleMs).slice(0, max);
      return stale.map(([id, d]) => {
        d.attempts += 1;
        d.consumer = consumer;
        d.claimedAt = Date.now();
        return { job: d.job, attempt: d.attempts, receipt: id };
      });
    },

    async backlog() {
      return queue.length + inFlight.size + waiting.size;
    },

    stop() {
      wake?.();
    },
  };
}
