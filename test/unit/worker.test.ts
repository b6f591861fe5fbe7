import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { DeliveryDeps } from '../../src/delivery/deliver.js';
import { createWorker } from '../../src/delivery/worker.js';
import { createLogger } from '../../src/log.js';
import { createMetrics } from '../../src/metrics.js';
import type { ClaimedJob, Outbox } from '../../src/store/types.js';

/**
 * The loop alone, on an outbox held in memory: its jobs name a destination that is not configured,
 * so each attempt goes straight to a dead letter, which finishes when the test says so.
 */
function loopOn(total: number) {
  let handed = 0;
  const claims: number[] = [];
  const finishing: Array<() => void> = [];
  let inFlight = 0;
  let mostInFlight = 0;
  const finished: string[] = [];
  const kept: Array<[string, string[]]> = [];
  const job = (i: number): ClaimedJob => ({
    job: { id: `job-${i}`, destination: 'removed', event: { event_name: 'purchase', params: {} }, clickId: 'c', clickSource: 'visitor', clickCapturedAt: 0, acceptedAt: 0 },
    attempt: 1,
    since: 0,
    receipt: `0-${i}`,
  });
  const outbox = {
    promoteDue: async () => 0,
    reclaim: async () => [],
    async keepClaimed(consumer: string, receipts: readonly string[]) {
      kept.push([consumer, [...receipts].sort()]);
      return receipts.length;
    },
    async claim(_consumer: string, max: number) {
      const n = Math.min(max, total - handed);
      if (n === 0) {
        await new Promise((resolve) => setTimeout(resolve, 5));
        return [];
      }
      claims.push(max);
      inFlight += n;
      mostInFlight = Math.max(mostInFlight, inFlight);
      return Array.from({ length: n }, () => job(handed++));
    },
    deadLetter(claimed: ClaimedJob) {
      return new Promise<void>((resolve) =>
        finishing.push(() => {
          inFlight -= 1;
          finished.push(claimed.job.id);
          resolve();
        }),
      );
    },
  } as unknown as Outbox;
  const deps: DeliveryDeps = {
    outbox,
    log: { append: async () => undefined, query: async () => [] },
    destinations: new Map(),
    gates: new Map(),
    sender: { send: () => Promise.reject(new Error('nothing is sent')), destroy: async () => undefined },
    logger: createLogger('error', { write: () => undefined }),
    metrics: createMetrics(async () => 0),
    now: Date.now,
  };
  /** Lets the oldest unfinished postback finish, and the loop react. */
  async function finishOne(): Promise<void> {
    while (finishing.length === 0) await new Promise((resolve) => setImmediate(resolve));
    finishing.shift()!();
    await new Promise((resolve) => setImmediate(resolve));
  }
  return { deps, claims, finished, kept, finishOne, get mostInFlight() { return mostInFlight; } };
}

test('the worker keeps at most its concurrency in flight and claims a quarter of its slots at a time', async () => {
  const loop = loopOn(40);
  const worker = createWorker(loop.deps, { consumer: 'w1', concurrency: 8, pollMs: 250, reclaimIdleMs: 60_000 });
  worker.start();
  for (let i = 0; i < 40; i++) await loop.finishOne();
  await worker.stop(1_000);

  assert.equal(loop.finished.length, 40, 'every claimed job was attempted');
  assert.equal(new Set(loop.finished).size, 40, 'each once');
  assert.ok(loop.mostInFlight <= 8, `at most 8 in flight, saw ${loop.mostInFlight}`);
  assert.equal(loop.claims[0], 8, 'the first claim fills every slot');
  for (const max of loop.claims.slice(1)) assert.ok(max >= 2, `a claim asks for at least a quarter of the slots, asked for ${max}`);
  assert.ok(loop.claims.length <= 1 + (40 - 8) / 2, `${loop.claims.length} claims for 40 jobs`);
});

test('a stopped worker waits for the postbacks in flight and claims nothing more', async () => {
  const loop = loopOn(100);
  const worker = createWorker(loop.deps, { consumer: 'w1', concurrency: 4, pollMs: 250, reclaimIdleMs: 60_000 });
  worker.start();
  await loop.finishOne();
  const stopping = worker.stop(5_000);
  while (worker.inFlight > 0) await loop.finishOne();
  assert.deepEqual(await stopping, { unfinished: 0 });
  const claimed = loop.claims.reduce((sum, max) => sum + max, 0);
  assert.ok(loop.finished.length <= claimed && loop.finished.length < 100, 'the rest stays queued');
});

test('the postbacks in flight stay claimed to their worker while they wait, and no longer', async () => {
  const loop = loopOn(4);
  const worker = createWorker(loop.deps, { consumer: 'w1', concurrency: 4, pollMs: 250, reclaimIdleMs: 40 });
  worker.start();
  // Every 10 ms; waited for rather than timed, so a loaded machine only makes it slower.
  for (let waited = 0; loop.kept.length < 2 && waited < 5_000; waited += 10) await sleep(10);
  assert.ok(loop.kept.length >= 2, `kept claimed ${loop.kept.length} times in 5 s`);
  for (const [consumer, receipts] of loop.kept) {
    assert.equal(consumer, 'w1');
    assert.deepEqual(receipts, ['0-0', '0-1', '0-2', '0-3']);
  }
  for (let i = 0; i < 4; i++) await loop.finishOne();
  await worker.stop(1_000);
  const calls = loop.kept.length;
  await sleep(50);
  assert.equal(loop.kept.length, calls, 'nothing in flight, nothing to keep');
});
