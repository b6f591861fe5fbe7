import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createLogger } from '../../src/log.js';
import { createMemoryStore } from '../../src/store/memory/index.js';
import { MAX_SAVES_PER_CALL } from '../../src/store/redis/clicks.js';
import { createRedisStore } from '../../src/store/redis/index.js';
import { DEAD_LETTER_RETENTION_MS } from '../../src/store/redis/outbox.js';
import { MAX_WORKER_WRITES_PER_CALL } from '../../src/store/redis/worker-writes.js';
import type { ConversionJob, Store, VisitorRef } from '../../src/store/types.js';
import { Redis } from 'ioredis';
import { scriptCallsIn, startRedis, type RedisServer } from '../helpers/redis-server.js';

/**
 * One contract, two stores: the embedded memory store must behave like Redis in everything the
 * relay relies on, or a trial on `npm start` would promise what production does not do.
 */
const visitor = (id: string): VisitorRef => ({ kind: 'visitor', id });
const client = (id: string): VisitorRef => ({ kind: 'client', id });
const DAY = 86_400_000;

function job(id: string, overrides: Partial<ConversionJob> = {}): ConversionJob {
  return {
    id,
    destination: 'cake',
    event: { event_name: 'purchase', transaction_id: `T-${id}`, params: {} },
    clickId: `click-${id}`,
    clickSource: 'visitor',
    clickCapturedAt: 1_700_000_000_000,
    acceptedAt: Date.now(),
    ...overrides,
  };
}

let redis: RedisServer;
before(async () => {
  redis = await startRedis();
});
after(async () => {
  await redis.stop();
});

const logger = createLogger('error');
/** A Redis store on the emptied test server, once it answers. */
async function makeRedisStore(): Promise<Store> {
  await redis.flush();
  const store = createRedisStore(redis.url, { logMaxEntries: 1000, log: logger });
  for (let i = 0; !(await store.ping()); i++) {
    if (i > 100) throw new Error('redis store never became ready');
    await sleep(20);
  }
  return store;
}

const stores: Array<[string, () => Promise<Store>]> = [
  ['memory', async () => createMemoryStore({ logMaxEntries: 1000 })],
  ['redis', makeRedisStore],
];

for (const [name, makeStore] of stores) {
  describe(`store contract: ${name}`, () => {
    async function open(t: { after(fn: () => unknown): void }): Promise<Store> {
      const store = await makeStore();
      t.after(() => store.close());
      return store;
    }

    test('clicks: newest per destination wins, under every ref, merged on read', async (t) => {
      const store = await open(t);
      await store.clicks.save([visitor('v1'), client('c1')], { clicks: [{ destination: 'cake', clickId: 'old', capturedAt: 1000 }], refused: [] }, DAY);
      await store.clicks.save([visitor('v1')], { clicks: [{ destination: 'cake', clickId: 'new|with|bars', capturedAt: 2000 }], refused: [] }, DAY);
      const both = await store.clicks.read([visitor('v1'), client('c1')]);
      assert.deepEqual(both.clicks, [{ destination: 'cake', clickId: 'new|with|bars', capturedAt: 2000, via: 'visitor' }]);
      const viaClient = await store.clicks.read([client('c1')]);
      assert.deepEqual(viaClient.clicks, [{ destination: 'cake', clickId: 'old', capturedAt: 1000, via: 'client' }]);
      assert.deepEqual(await store.clicks.read([visitor('nobody')]), { clicks: [], refused: [] });
    });

    test('clicks: the same click ID saved again keeps its first capture time; a new one replaces it', async (t) => {
      const store = await open(t);
      const save = (clickId: string, capturedAt: number) =>
        store.clicks.save([visitor('v5')], { clicks: [{ destination: 'cake', clickId, capturedAt }], refused: [] }, DAY);
      await save('same-click', 1000);
      await save('same-click', 2000);
      assert.equal((await store.clicks.read([visitor('v5')])).clicks[0]?.capturedAt, 1000);
      await save('other-click', 3000);
      assert.deepEqual((await store.clicks.read([visitor('v5')])).clicks.map((c) => [c.clickId, c.capturedAt]), [['other-click', 3000]]);
    });

    test('clicks: a refusal is kept beside the click, and cleared by the next valid click', async (t) => {
      const store = await open(t);
      await store.clicks.save([visitor('v2')], { clicks: [], refused: [{ destination: 'cake', at: 1000, reason: 's1: "{clickid}" is a macro' }] }, DAY);
      assert.deepEqual((await store.clicks.read([visitor('v2')])).refused, [{ destination: 'cake', at: 1000, reason: 's1: "{clickid}" is a macro' }]);
      await store.clicks.save([visitor('v2')], { clicks: [{ destination: 'cake', clickId: 'good', capturedAt: 2000 }], refused: [] }, DAY);
      const read = await store.clicks.read([visitor('v2')]);
      assert.deepEqual(read.refused, []);
      assert.equal(read.clicks[0]?.clickId, 'good');
    });

    test('clicks: they expire with their TTL, and a shorter TTL never shortens a longer one', async (t) => {
      const store = await open(t);
      await store.clicks.save([visitor('v3')], { clicks: [{ destination: 'a', clickId: 'x', capturedAt: 1 }], refused: [] }, 150);
      await store.clicks.save([visitor('v4')], { clicks: [{ destination: 'a', clickId: 'y', capturedAt: 1 }], refused: [] }, 5_000);
      await store.clicks.save([visitor('v4')], { clicks: [{ destination: 'b', clickId: 'z', capturedAt: 2 }], refused: [] }, 100);
      await sleep(400);
      assert.deepEqual((await store.clicks.read([visitor('v3')])).clicks, []);
      assert.equal((await store.clicks.read([visitor('v4')])).clicks.length, 2);
    });

    test('outbox: the first acceptance of a dedup key wins; a repeat with the same job ID is harmless', async (t) => {
      const store = await open(t);
      const first = job('j1');
      assert.deepEqual(await store.outbox.accept(first, 'key-1', DAY), { accepted: true });
      // A lost reply re-sent by the client: same job, same key.
      assert.deepEqual(await store.outbox.accept(first, 'key-1', DAY), { accepted: true });
      const other = await store.outbox.accept(job('j2'), 'key-1', DAY);
      assert.deepEqual(other, { accepted: false, firstJobId: 'j1', firstAcceptedAt: first.acceptedAt });
      const claimed = await store.outbox.claim('w1', 10, 50);
      assert.deepEqual(claimed.map((c) => c.job.id), ['j1'], 'exactly one queued job for the key');
      assert.equal(claimed[0]!.attempt, 1);
      assert.deepEqual(claimed[0]!.job, first);
    });

    test('outbox: complete removes the job; retryAt brings it back when due, with the attempt counted', async (t) => {
      const store = await open(t);
      await store.outbox.accept(job('a'), 'ka', DAY);
      await store.outbox.accept(job('b'), 'kb', DAY);
      const claimed = await store.outbox.claim('w1', 10, 50);
      assert.equal(claimed.length, 2);
      assert.equal(await store.outbox.backlog(), 2);
      await store.outbox.complete(claimed.find((c) => c.job.id === 'a')!, 'success');
      const now = Date.now();
      await store.outbox.retryAt(claimed.find((c) => c.job.id === 'b')!, now + 200, 'retrying');
      assert.equal(await store.outbox.backlog(), 1);
      assert.equal(await store.outbox.promoteDue(now), 0, 'not due yet');
      assert.deepEqual(await store.outbox.claim('w1', 10, 20), []);
      assert.equal(await store.outbox.promoteDue(now + 250), 1);
      const again = await store.outbox.claim('w1', 10, 50);
      assert.deepEqual(again.map((c) => [c.job.id, c.attempt]), [['b', 2]]);
    });

    test('outbox: a claim waits for work and wakes when a job arrives', async (t) => {
      const store = await open(t);
      const waiting = store.outbox.claim('w1', 5, 2_000);
      await sleep(50);
      await store.outbox.accept(job('late'), 'k-late', DAY);
      const claimed = await waiting;
      assert.deepEqual(claimed.map((c) => c.job.id), ['late']);
    });

    test('outbox: a job claimed by a worker that died is reclaimed by another after the idle time', async (t) => {
      const store = await open(t);
      await store.outbox.accept(job('orphan'), 'k-orphan', DAY);
      const [taken] = await store.outbox.claim('dead-worker', 1, 50);
      assert.ok(taken);
      assert.deepEqual(await store.outbox.reclaim('w2', 5_000, 10), [], 'not idle long enough yet');
      await sleep(120);
      const reclaimed = await store.outbox.reclaim('w2', 100, 10);
      assert.deepEqual(reclaimed.map((c) => [c.job.id, c.attempt]), [['orphan', 2]]);
      await store.outbox.complete(reclaimed[0]!, 'success');
      assert.equal(await store.outbox.backlog(), 0, 'every entry is closed, the refused one too: its postback is not sent twice');
    });

    test('outbox: a job its worker keeps claimed is not reclaimed, however long its delivery takes', async (t) => {
      const store = await open(t);
      for (const id of ['slow', 'stalled']) await store.outbox.accept(job(id), `k-${id}`, DAY);
      const claimed = new Map((await store.outbox.claim('w1', 10, 50)).map((c) => [c.job.id, c]));
      const slow = claimed.get('slow')!;
      for (let i = 0; i < 3; i++) {
        await sleep(60);
        assert.equal(await store.outbox.keepClaimed('w1', [slow.receipt]), 1, 'still w1\'s');
      }
      const reclaimed = await store.outbox.reclaim('w2', 100, 10);
      assert.deepEqual(reclaimed.map((c) => c.job.id), ['stalled'], 'only the job nobody kept claimed is taken over');
      assert.equal(await store.outbox.keepClaimed('w1', [claimed.get('stalled')!.receipt]), 0, 'w1 does not take it back from w2');
      assert.equal(await store.outbox.keepClaimed('w2', [slow.receipt]), 0, 'nor w2 the one w1 kept');
      await store.outbox.complete(slow, 'success');
      assert.equal(await store.outbox.keepClaimed('w1', [slow.receipt]), 0, 'a settled job is no longer anyone\'s');
      await store.outbox.complete(reclaimed[0]!, 'success');
      assert.equal(await store.outbox.backlog(), 0);
      assert.equal(await store.outbox.state('slow'), 'settled');
      assert.equal(await store.outbox.keepClaimed('w1', []), 0);
    });

    test('dead letters: kept with the last answer; a replay queues each once and never resets dedup', async (t) => {
      const store = await open(t);
      for (const id of ['d1', 'd2', 'd3']) await store.outbox.accept(job(id), `k-${id}`, DAY);
      const claimed = await store.outbox.claim('w1', 10, 50);
      const t0 = Date.now();
      for (const c of claimed) await store.outbox.deadLetter(c, 'rejected', `HTTP 400 for ${c.job.id}`, t0);
      assert.equal(await store.outbox.backlog(), 0, 'dead letters are not in the queue');
      assert.equal(await store.outbox.state('d1'), 'dead');
      const letters = await store.outbox.deadLetters(10);
      assert.deepEqual(letters.map((l) => [l.job.id, l.outcome, l.reason]).sort(), [
        ['d1', 'rejected', 'HTTP 400 for d1'], ['d2', 'rejected', 'HTTP 400 for d2'], ['d3', 'rejected', 'HTTP 400 for d3'],
      ]);

      const replayAt = t0 + 5_000;
      const first = await store.outbox.replay({ ids: ['d1', 'nope'] }, replayAt);
      assert.deepEqual(first.replayed, ['d1']);
      assert.deepEqual(first.skipped, [{ id: 'nope', why: 'no dead job by this ID: it is queued for its first attempt, expired, or unknown' }]);
      const byRange = await store.outbox.replay({ from: t0 - 1_000, to: t0 + 1_000 }, replayAt);
      assert.deepEqual(byRange.replayed.sort(), ['d2', 'd3']);
      const again = await store.outbox.replay({ ids: ['d1', 'd2', 'd3'] }, replayAt);
      assert.deepEqual(again.replayed, [], 'a second replay does nothing');
      assert.deepEqual(again.skipped.map((s) => s.why), ['the job is queued, not dead', 'the job is queued, not dead', 'the job is queued, not dead']);
      assert.deepEqual(await store.outbox.deadLetters(10), []);

      const requeued = await store.outbox.claim('w1', 10, 50);
      assert.deepEqual(requeued.map((c) => [c.job.id, c.attempt, c.since]).sort(), [['d1', 1, replayAt], ['d2', 1, replayAt], ['d3', 1, replayAt]]);
      const dup = await store.outbox.accept(job('d1-again', { event: job('d1').event }), 'k-d1', DAY);
      assert.equal(dup.accepted, false, 'replay leaves the dedup key in place');
    });

    test('retryAt without counting an attempt (circuit open) leaves the attempt number as it was', async (t) => {
      const store = await open(t);
      await store.outbox.accept(job('c1'), 'k-c1', DAY);
      const [first] = await store.outbox.claim('w1', 1, 50);
      await store.outbox.retryAt(first!, Date.now() - 1, 'circuit_open', false);
      await store.outbox.promoteDue(Date.now());
      const [second] = await store.outbox.claim('w1', 1, 50);
      assert.equal(second!.attempt, 1);
    });

    test('restore re-creates a job the store lost, once; never one whose dedup key is known', async (t) => {
      const store = await open(t);
      const lost = job('lost-1');
      assert.equal(await store.outbox.state('lost-1'), undefined);
      assert.equal(await store.outbox.restore(lost, 'k-lost', DAY), 'restored');
      assert.equal(await store.outbox.restore(lost, 'k-lost', DAY), 'known');
      assert.equal(await store.outbox.restore(job('other'), 'k-lost', DAY), 'duplicate');
      const claimed = await store.outbox.claim('w1', 10, 50);
      assert.deepEqual(claimed.map((c) => c.job.id), ['lost-1']);
      await store.outbox.complete(claimed[0]!, 'success');
      assert.equal(await store.outbox.restore(lost, 'k-lost', DAY), 'known', 'a settled job is never re-sent');
      assert.equal(await store.outbox.state('lost-1'), 'settled');
    });

    test('postback log: newest first, filtered by transaction and click ID, limited', async (t) => {
      const store = await open(t);
      for (let i = 0; i < 5; i++) {
        await store.log.append({
          at: new Date(1_700_000_000_000 + i).toISOString(), destination: 'cake', status: i === 4 ? 'success' : 'retrying',
          reason: `attempt ${i}`, event_name: 'purchase', transaction_id: i < 3 ? 'T1' : 'T2', click_id: `c${i % 2}`,
        });
      }
      assert.deepEqual((await store.log.query({ transaction_id: 'T1', limit: 10 })).map((e) => e.reason), ['attempt 2', 'attempt 1', 'attempt 0']);
      assert.deepEqual((await store.log.query({ click_id: 'c1', limit: 10 })).map((e) => e.reason), ['attempt 3', 'attempt 1']);
      assert.deepEqual((await store.log.query({ status: 'success', limit: 10 })).map((e) => e.reason), ['attempt 4']);
      assert.equal((await store.log.query({ limit: 2 })).length, 2);
    });

    test('postback log: what the delivery worker writes is read with what requests write', async (t) => {
      const store = await open(t);
      const entry = { destination: 'cake', reason: '', event_name: 'purchase', transaction_id: 'T9' } as const;
      await store.log.append({ ...entry, at: new Date(1_700_000_000_000).toISOString(), status: 'no_click' });
      await store.deliveryLog.append({ ...entry, at: new Date(1_700_000_000_001).toISOString(), status: 'success' });
      assert.deepEqual((await store.log.query({ transaction_id: 'T9', limit: 10 })).map((e) => e.status), ['success', 'no_click']);
    });
  });
}

test('redis outbox: a claimed batch whose job record is gone, or whose JSON is unreadable, delivers the rest and closes the orphans', async (t) => {
  const store = await makeRedisStore();
  t.after(() => store.close());
  for (const id of ['kept-1', 'gone', 'kept-2']) await store.outbox.accept(job(id), `k-${id}`, DAY);
  // Back from a retry, the jobs are queued by ID, their JSON in their records; one record expires
  // while its stream entry waits (far past any retry age).
  const now = Date.now();
  for (const c of await store.outbox.claim('w0', 10, 50)) await store.outbox.retryAt(c, now - 1, 'retrying');
  assert.equal(await store.outbox.promoteDue(now), 3);
  const direct = new Redis(redis.url);
  t.after(() => direct.disconnect());
  await direct.del('rl:{rl}:job:gone');
  // And an entry whose JSON cannot be read (written by hand).
  await direct.xadd('rl:{rl}:queue', '*', 'job', 'unreadable', 'body', '{"id":');

  const claimed = await store.outbox.claim('w1', 10, 50);
  assert.deepEqual(claimed.map((c) => [c.job.id, c.attempt]), [['kept-1', 2], ['kept-2', 2]]);
  assert.equal(await direct.exists('rl:{rl}:job:gone'), 0, 'no attempt counter is left behind for the missing job');
  for (const c of claimed) await store.outbox.complete(c, 'success');
  assert.equal(await store.outbox.backlog(), 0, 'the orphans are closed, not left to be claimed for ever');
  assert.deepEqual(await store.outbox.reclaim('w2', 0, 10), []);
});

test('redis outbox: jobs a version before queued in its own stream are moved over and delivered once', async (t) => {
  const store = await makeRedisStore();
  t.after(() => store.close());
  const direct = new Redis(redis.url);
  t.after(() => direct.disconnect());
  // As that version queued them: an entry naming the job, the job in its record.
  const queueOld = async (id: string) => {
    await direct.hset(`rl:{rl}:job:${id}`, 'job', JSON.stringify(job(id)), 'state', 'queued', 'attempts', '0');
    await direct.xadd('rl:{rl}:outbox', '*', 'job', id);
  };
  await direct.xgroup('CREATE', 'rl:{rl}:outbox', 'relay', '0', 'MKSTREAM');
  // Workers of that version claimed three and counted their attempts: one stopped, two are slow.
  for (const id of ['old-claimed', 'old-slow', 'old-failing']) {
    await queueOld(id);
    await direct.xreadgroup('GROUP', 'relay', `worker-${id}`, 'COUNT', 1, 'STREAMS', 'rl:{rl}:outbox', '>');
    await direct.hincrby(`rl:{rl}:job:${id}`, 'attempts', 1);
  }
  await queueOld('old-queued');
  await store.outbox.accept(job('new'), 'k-new', DAY);
  assert.equal(await store.outbox.backlog(), 5);
  assert.deepEqual([...await store.outbox.queuedJobIds()].sort(), ['new', 'old-claimed', 'old-failing', 'old-queued', 'old-slow']);

  assert.equal(await store.outbox.promoteDue(Date.now()), 1, 'the one not yet delivered there is moved with the due retries');
  assert.deepEqual((await store.outbox.reclaim('w1', 60_000, 10)).map((c) => c.job.id), [], 'the claimed one is left to its worker while it may be alive');
  assert.deepEqual((await store.outbox.reclaim('w1', 0, 10)).map((c) => c.job.id), [], 'once idle they are moved, to be claimed');
  // The slow ones' workers were alive after all: one settles its job, one puts it back for a retry.
  await direct.hset('rl:{rl}:job:old-slow', 'state', 'settled', 'outcome', 'success');
  await direct.zadd('rl:{rl}:retry', Date.now() + 60_000, 'old-failing');
  await direct.hset('rl:{rl}:job:old-failing', 'state', 'retrying');
  const claimed = await store.outbox.claim('w1', 10, 50);
  assert.deepEqual(claimed.map((c) => [c.job.id, c.attempt]).sort(), [['new', 1], ['old-claimed', 2], ['old-queued', 1]], 'the settled one and the one waiting for its retry are not sent now');
  assert.equal(await direct.xlen('rl:{rl}:outbox'), 0, 'nothing is left in the old stream');
  for (const c of claimed) await store.outbox.complete(c, 'success');
  assert.equal(await store.outbox.backlog(), 1, 'the retry alone waits, once');
  assert.deepEqual(await store.outbox.queuedJobIds(), new Set(['old-failing']));
  assert.equal(await store.outbox.promoteDue(Date.now()), 0);
  assert.deepEqual(await store.outbox.reclaim('w2', 0, 10), []);
});

test('redis outbox: a queued job is its outbox entry alone; a record for a retry has no expiry, settled or dead it gets its retention', async (t) => {
  const store = await makeRedisStore();
  t.after(() => store.close());
  const direct = new Redis(redis.url);
  t.after(() => direct.disconnect());
  const ttlOf = (id: string) => direct.pttl(`rl:{rl}:job:${id}`);
  const days = (ms: number) => Math.round(ms / DAY);
  const now = Date.now();

  for (const id of ['sent', 'retried', 'dead']) await store.outbox.accept(job(id), `k-${id}`, DAY);
  await store.outbox.restore(job('restored'), 'k-restored', DAY);
  await store.acceptLastTouch!([visitor('v-ttl')], [{
    name: 'platform', destinations: ['meta'],
    jobs: [{ destination: 'meta', windowMs: DAY, withoutClick: true, jobId: 'one-step', dedupKey: 'k-one-step', jobHead: '{"id":"one-step","destination":"meta","event":{"event_name":"purchase","params":{}}' }],
  }], now, DAY);
  const ids = ['sent', 'retried', 'dead', 'restored', 'one-step'];
  for (const id of ids) assert.equal(await ttlOf(id), -2, `${id}: queued, no record`);
  const entries = (await direct.xrange('rl:{rl}:queue', '-', '+')) as Array<[string, string[]]>;
  assert.deepEqual(entries.map(([, fields]) => [fields[0], fields[1], fields[2]]), ids.map((id) => ['job', id, 'body']));
  assert.deepEqual(entries.map(([, fields]) => (JSON.parse(fields[3]!) as ConversionJob).id), ids, 'each entry carries its job');
  assert.equal(await direct.pttl('rl:{rl}:queue'), -1, 'the stream has no expiry');
  assert.ok((await direct.pttl('rl:{rl}:dedup:k-sent')) > 0, 'the dedup key still expires');
  assert.deepEqual([...await store.outbox.queuedJobIds()].sort(), [...ids].sort());

  const claimed = new Map((await store.outbox.claim('w1', 10, 50)).map((c) => [c.job.id, c]));
  assert.deepEqual([...claimed.values()].map((c) => [c.job.id, c.attempt]), ids.map((id) => [id, 1]));
  await store.outbox.complete(claimed.get('sent')!, 'success');
  await store.outbox.retryAt(claimed.get('retried')!, now + 60_000, 'retrying');
  await store.outbox.deadLetter(claimed.get('dead')!, 'rejected', 'HTTP 400', now);
  assert.equal(days(await ttlOf('sent')), 7, 'settled: kept a week');
  assert.deepEqual(await direct.hgetall('rl:{rl}:job:sent'), { state: 'settled', outcome: 'success', settledAt: (await direct.hget('rl:{rl}:job:sent', 'settledAt'))! }, 'its state alone');
  assert.equal(await ttlOf('retried'), -1, 'waiting for a retry: no expiry');
  assert.equal(days(await ttlOf('dead')), 90, 'dead: kept as long as its dead letter');
  for (const id of ['retried', 'dead']) {
    assert.deepEqual(JSON.parse((await direct.hget(`rl:{rl}:job:${id}`, 'job'))!), claimed.get(id)!.job, `${id}: its record carries the job`);
  }
  assert.equal(await direct.hget('rl:{rl}:job:retried', 'attempts'), '1');
  assert.deepEqual([...await store.outbox.queuedJobIds()].sort(), ['one-step', 'restored', 'retried']);

  const replay = await store.outbox.replay({ ids: ['dead'] }, now);
  assert.deepEqual(replay.replayed, ['dead']);
  assert.equal(await ttlOf('dead'), -1, 'queued again: no expiry');
});

test('redis clicks: the saves of one turn share a script call; a key that is not a hash fails alone', async (t) => {
  const store = await makeRedisStore();
  t.after(() => store.close());
  const direct = new Redis(redis.url);
  t.after(() => direct.disconnect());
  await direct.set('rl:v:{v-string}', 'not a hash');
  const click = (clickId: string) => ({ clicks: [{ destination: 'cake', clickId, capturedAt: 1000 }], refused: [] });
  await store.clicks.save([visitor('warm')], click('warm'), DAY);
  await direct.config('RESETSTAT');

  const saves = Array.from({ length: 100 }, (_, i) => store.clicks.save([visitor(`v${i}`), client(`c${i}`)], click(`click-${i}`), DAY));
  const refused = store.clicks.save([visitor('v-string')], click('lost'), DAY);
  const settled = await Promise.allSettled([...saves, refused]);
  const calls = scriptCallsIn(await direct.info('commandstats'));
  assert.equal(calls, Math.ceil(201 / MAX_SAVES_PER_CALL), 'the 201 hashes of one turn, in as few calls as the cap allows');
  assert.equal(settled.at(-1)!.status, 'rejected');
  assert.match(String((settled.at(-1) as PromiseRejectedResult).reason.message), /WRONGTYPE/);
  assert.ok(settled.slice(0, -1).every((s) => s.status === 'fulfilled'), 'the others were saved');
  for (const i of [0, 63, 64, 99]) {
    assert.deepEqual((await store.clicks.read([client(`c${i}`)])).clicks, [{ destination: 'cake', clickId: `click-${i}`, capturedAt: 1000, via: 'client' }]);
    assert.ok((await direct.pttl(`rl:v:{v${i}}`)) > 0, 'with a TTL');
  }
});

test('redis delivery writes: the settles and log entries of one turn share a script call; a refused key fails alone', async (t) => {
  const store = await makeRedisStore();
  t.after(() => store.close());
  const direct = new Redis(redis.url);
  t.after(() => direct.disconnect());
  const count = 150;
  for (let i = 0; i < count; i++) await store.outbox.accept(job(`w${i}`), `k-w${i}`, DAY);
  await store.outbox.accept(job('w-refused'), 'k-w-refused', DAY);
  const claimed = await store.outbox.claim('w1', count + 1, 50);
  assert.equal(claimed.length, count + 1);
  // The record replaced by a value that is not a hash: its settle is refused by Redis.
  await direct.del('rl:{rl}:job:w-refused');
  await direct.set('rl:{rl}:job:w-refused', 'not a hash');
  await direct.config('RESETSTAT');

  const entry = (c: (typeof claimed)[number]) => ({
    at: new Date().toISOString(), destination: 'cake', event_name: 'purchase', transaction_id: c.job.event.transaction_id,
    job_id: c.job.id, status: 'success', reason: 'HTTP 200',
  } as const);
  const settled = await Promise.allSettled(claimed.flatMap((c) => [store.outbox.complete(c, 'success'), store.deliveryLog.append(entry(c))]));
  const calls = scriptCallsIn(await direct.info('commandstats'));
  assert.equal(calls, Math.ceil((2 * (count + 1)) / MAX_WORKER_WRITES_PER_CALL), 'one settle and one entry per job, in as few calls as the cap allows');
  const refusedAt = 2 * claimed.findIndex((c) => c.job.id === 'w-refused');
  assert.equal(settled[refusedAt]!.status, 'rejected');
  assert.match(String((settled[refusedAt] as PromiseRejectedResult).reason.message), /WRONGTYPE/);
  assert.equal(settled.filter((s) => s.status === 'rejected').length, 1, 'the others were written');

  for (const i of [0, 1, 127, count - 1]) {
    assert.equal(await store.outbox.state(`w${i}`), 'settled');
    assert.ok((await direct.pttl(`rl:{rl}:job:w${i}`)) > 0, 'kept for its retention');
  }
  assert.equal((await store.log.query({ status: 'success', limit: 1000 })).length, count + 1, 'every entry is in the log');
  assert.equal(await store.outbox.backlog(), 0, 'every entry is closed, the refused one too: its postback is not sent twice');
});

test('redis postback log: in an outage, a write from a request fails within its deadline instead of queueing', { timeout: 10_000 }, async (t) => {
  const store = await makeRedisStore();
  t.after(() => store.close());
  await redis.kill();
  t.after(() => redis.restart());
  const started = Date.now();
  await assert.rejects(
    store.log.append({ at: new Date().toISOString(), destination: 'cake', status: 'no_click', reason: '', event_name: 'purchase' }),
  );
  assert.ok(Date.now() - started < 3_000, 'the write gave up at its deadline');
});

test('memory outbox: dead letters are kept as long as Redis keeps them, and older ones let go as new ones come', async () => {
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
    assert.deepEqual(replay.skipped, [{ id: 'old', why: 'no dead job by this ID: it is queued for its first attempt, expired, or unknown' }]);
  } finally {
    await store.close();
  }
});
