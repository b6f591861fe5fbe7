import { setTimeout as sleep } from 'node:timers/promises';
import type { ClaimedJob } from '../store/types.js';
import { deliverJob, type DeliveryDeps } from './deliver.js';

export interface WorkerOptions {
  consumer: string;
  /** Postbacks in flight at once in this process. */
  concurrency: number;
  /** How long one claim waits for new work; also the cadence of retry promotion. */
  pollMs: number;
  /** A job claimed by a worker that has not settled it for this long is taken over. */
  reclaimIdleMs: number;
}

export interface Worker {
  start(): void;
  /** Stops claiming, and waits up to `graceMs` for postbacks in flight; the rest stay queued. */
  stop(graceMs: number): Promise<{ unfinished: number }>;
  /**
   * Delivers what is queued and due now, within `budgetMs`, without the background loop: for hosts
   * that give no CPU between requests (Cloud Functions), driven per request and by a scheduler.
   */
  drain(budgetMs: number): Promise<{ attempted: number }>;
  readonly inFlight: number;
}

/** How often to look for jobs a dead worker left behind: a fraction of the idle time that proves it dead. */
const MAX_RECLAIM_EVERY_MS = 15_000;
const ERROR_PAUSE_MS = 500;
/**
 * At most this much is added to a postback's delay, in exchange for claiming jobs in batches. At a
 * trickle every claim, load, send and settle wakes the process on its own, and on a virtual machine
 * each wake-up costs more than the work it does: at 200 postbacks/s this pause took the CPU per
 * postback from about 860 to 450 µs against 20 ms (BENCHMARKS.md). A network does not notice a
 * tenth of a second.
 */
const TRICKLE_PAUSE_MS = 100;

/** The delivery loop: claim, deliver with bounded concurrency, promote due retries, reclaim stale. */
export function createWorker(deps: DeliveryDeps, options: WorkerOptions): Worker {
  /** Postbacks in flight, each with its job's receipt. */
  const running = new Map<Promise<void>, string>();
  let active = false;
  let loop: Promise<void> | undefined;
  let lastReclaim = 0;
  let lastPromote = 0;
  let lastErrorReport = 0;

  /**
   * One delivery whose failure is logged. With the store gone mid-settle the job stays claimed and
   * is reclaimed; a settle Redis refused (a record of another type) has closed its entry already.
   */
  function deliverOne(claimed: ClaimedJob): Promise<void> {
    return deliverJob(claimed, deps).catch((err: Error) =>
      deps.logger.error({ job_id: claimed.job.id, err: err.message }, 'delivery.failed'),
    );
  }

  /**
   * Wakes the loop once at least `slots` postbacks are free to start. One waiter and a count, not a
   * race over the postbacks in flight: a race adds a reaction to each of them, every time, and
   * each finished postback would then run one per race it outlived.
   */
  let slotsWanted = 0;
  let wakeLoop: (() => void) | undefined;
  function freeSlots(slots: number): Promise<void> {
    return new Promise((resolve) => {
      slotsWanted = slots;
      wakeLoop = resolve;
    });
  }

  function run(claimed: ClaimedJob): Promise<void> {
    const task = deliverOne(claimed).finally(() => {
      running.delete(task);
      if (running.size === 0) stopKeepingClaimed();
      if (wakeLoop && options.concurrency - running.size >= slotsWanted) {
        const wake = wakeLoop;
        wakeLoop = undefined;
        wake();
      }
    });
    running.set(task, claimed.receipt);
    keepingClaimed ??= setInterval(keepClaimed, keepClaimedEveryMs).unref();
    return task;
  }

  /**
   * The jobs in flight are claimed again, to this worker, every quarter of the idle time after
   * which another worker may take them over: a job that waits for its destination's free slot, or
   * for a slow network's answer, is not idle, and taken over it would be sent twice.
   */
  const keepClaimedEveryMs = Math.max(10, Math.floor(options.reclaimIdleMs / 4));
  let keepingClaimed: NodeJS.Timeout | undefined;
  let keepClaimedCall: Promise<unknown> | undefined;
  function keepClaimed(): void {
    // A store slow to answer gets one call at a time.
    if (keepClaimedCall || running.size === 0) return;
    keepClaimedCall = deps.outbox
      .keepClaimed(options.consumer, [...running.values()])
      .catch((err: Error) => reportStoreError(err))
      .finally(() => (keepClaimedCall = undefined));
  }
  function stopKeepingClaimed(): void {
    clearInterval(keepingClaimed);
    keepingClaimed = undefined;
  }

  function reportStoreError(err: Error): void {
    const now = Date.now();
    if (now - lastErrorReport > 10_000) {
      lastErrorReport = now;
      deps.logger.warn({ err: err.message }, 'worker.store_unavailable');
    }
  }

  async function tick(): Promise<void> {
    const now = deps.now();
    if (now - lastPromote >= options.pollMs) {
      lastPromote = now;
      await deps.outbox.promoteDue(now);
    }
    // Claim in batches: with most slots busy, wait for a quarter of them to free up rather than
    // ask for one job at a time.
    const batch = Math.ceil(options.concurrency / 4);
    if (running.size > 0 && options.concurrency - running.size < batch) {
      await freeSlots(batch);
      return;
    }
    const free = options.concurrency - running.size;
    if (now - lastReclaim >= Math.min(MAX_RECLAIM_EVERY_MS, options.reclaimIdleMs / 2)) {
      lastReclaim = now;
      for (const claimed of await deps.outbox.reclaim(options.consumer, options.reclaimIdleMs, free)) run(claimed);
    }
    const claimed = await deps.outbox.claim(options.consumer, options.concurrency - running.size, options.pollMs);
    // Claimed as the worker stopped: not started; another worker reclaims them.
    if (!active) return;
    for (const job of claimed) run(job);
    // A trickle (a job or two per claim) costs a claim, a load and a settle round trip per job; a
    // short pause lets the next claim take several, whose round trips are then shared.
    if (claimed.length > 0 && claimed.length < Math.ceil(options.concurrency / 4)) await sleep(TRICKLE_PAUSE_MS);
  }

  async function loopUntilStopped(): Promise<void> {
    while (active) {
      try {
        await tick();
      } catch (err) {
        if (!active) break;
        reportStoreError(err as Error);
        await sleep(ERROR_PAUSE_MS);
      }
    }
  }

  return {
    start() {
      if (active) return;
      active = true;
      loop = loopUntilStopped();
    },
    async stop(graceMs) {
      active = false;
      const timer = new AbortController();
      const deadline = sleep(graceMs, undefined, { signal: timer.signal }).catch(() => undefined);
      // Postbacks in flight get the grace period. The loop itself only gets a poll's length: if the
      // store is down it may wait for ever, and anything it claims late is reclaimed by another worker.
      const loopSettled = sleep(options.pollMs + 200, undefined, { signal: timer.signal }).catch(() => undefined);
      await Promise.race([Promise.all([Promise.race([loop, loopSettled]), ...running.keys()]), deadline]);
      timer.abort();
      return { unfinished: running.size };
    },
    async drain(budgetMs) {
      const deadline = Date.now() + budgetMs;
      let attempted = 0;
      await deps.outbox.promoteDue(deps.now());
      // A function instance that was stopped mid-delivery left its jobs claimed: take them over first.
      let batch = await deps.outbox.reclaim(options.consumer, options.reclaimIdleMs, options.concurrency);
      while (batch.length > 0 || Date.now() < deadline) {
        if (batch.length === 0) batch = await deps.outbox.claim(options.consumer, options.concurrency, 0);
        if (batch.length === 0) break;
        attempted += batch.length;
        await Promise.all(batch.map((claimed) => run(claimed)));
        batch = [];
      }
      return { attempted };
    },
    get inFlight() {
      return running.size;
    },
  };
}
