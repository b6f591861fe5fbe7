import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createMemoryStore } from '../../src/store/memory/index.js';
import { DEAD_LETTER_RETENTION_MS } from '../../src/store/redis/outbox.js';
import type { ConversionJob } from '../../src/store/types.js';

const DAY = 86_400_000;

function job(id: string): ConversionJob {
  return {
    id,
    destination: 'cake',
    event: { event_name: 'purchase', transaction_id: `T-${id}`, params: {} },
    clickId: `click-${id}`,
    clickSource: 'visitor',
    clickCapturedAt: 1_700_000_000_000,
    acceptedAt: Date.now(),
  };
}

test('the memory store keeps dead letters as long as Redis does, and lets older ones go as new ones come', async () => {
  const store = createMemoryStore({ logMaxEntries: 100 });
  try {
    for (const id of ['old', 'recent', 'new']) await store.outbox.accept(job(id), `k-${id}`, DAY);
    const claimed = new Map((await store.outbox.claim('w1', 10, 50)).map((c) => [c.job.id, c]));
    const now = Date.now();
    await store.outbox.deadLetter(claimed.get('old')!, 'rejected', 'HTTP 400', now - DEAD_LETTER_RETENTION_MS - DAY);
    await store.outbox.deadLetter(claimed.get('recent')!, 'rejected', 'HTTP 400', now - DEAD_LETTER_RETENTION_MS + DAY);
    assert.deepEqual((await store.outbox.deadLetters(10)).map((l) => l.job.id), ['recent', 'old'], 'nothing is let go before a new one comes');

    await store.outbox.deadLetter(claimed.get('new')!, 'rejected', 'HTTP 400', now);
    assert.deepEqual((await store.outbox.deadLetters(10)).map((l) => l.job.id), ['new', 'recent']);
    assert.equal(await store.outbox.state('old'), undefined, 'its record is gone, as a Redis record expires');
    const replay = await store.outbox.replay({ ids: ['old'] }, now);
    assert.deepEqual(replay.skipped, [{ id: 'old', why: 'no such job (or it expired)' }]);
  } finally {
    await store.close();
  }
});
