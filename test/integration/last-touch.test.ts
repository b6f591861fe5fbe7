import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, beforeEach, test } from 'node:test';
import { Redis } from 'ioredis';
import { attributeConversion } from '../../src/attribution/resolve.js';
import { DestinationSchema, type DestinationConfig } from '../../src/config/schema.js';
import { bindDestinations } from '../../src/destinations/destination.js';
import { BUNDLED_TEMPLATES_DIR, loadTemplates } from '../../src/destinations/index.js';
import type { RelayEvent } from '../../src/events/event.js';
import { prepareGroups } from '../../src/ingest/accept.js';
import { StoreUnavailableError } from '../../src/errors.js';
import { createIngest, type Hit } from '../../src/ingest/ingest.js';
import { createLogger } from '../../src/log.js';
import { createMetrics } from '../../src/metrics.js';
import { createRedisStore } from '../../src/store/redis/index.js';
import { keys } from '../../src/store/redis/keys.js';
import { MAX_CONVERSIONS_PER_CALL } from '../../src/store/redis/last-touch.js';
import type { ConversionJob, LastTouchAccepts, Store, VisitorRef } from '../../src/store/types.js';
import { TraceRecorder } from '../../src/trace/trace.js';
import { scriptCallsIn, startRedis, type RedisServer } from '../helpers/redis-server.js';

/**
 * On Redis a conversion with a transaction ID is read, attributed and accepted by one script
 * (Store.acceptLastTouch), which applies attributeConversion's rules in Lua. These tests hold the
 * two to the same answers.
 */

const HOUR = 3_600_000;
const NOW = Date.parse('2026-11-25T12:00:00Z');
const DAY = 86_400_000;

const settings: Record<string, Record<string, string>> = {
  'cake-api-v2': { baseUrl: 'https://c.example', offer_id: '1', api_key: 'k' },
  'generic-get': { url: 'https://t.example/pb' },
  'meta-capi': { pixel_id: '123456', access_token: 'token' },
};
const destinations = bindDestinations(
  ([
    { id: 'cake', template: 'cake-api-v2', sessionHours: 24 },
    { id: 'tracker', template: 'generic-get', sessionHours: 72 },
    { id: 'lead-only', template: 'cake-api-v2', conversionEvents: ['generate_lead'] },
    { id: 'solo', template: 'generic-get', attributionGroup: 'solo', sessionHours: 2 },
    { id: 'meta', template: 'meta-capi' },
  ] as Array<Partial<DestinationConfig> & { id: string; template: string }>).map((c) =>
    DestinationSchema.parse({ mode: 'live', settings: settings[c.template], ...c })),
  loadTemplates(BUNDLED_TEMPLATES_DIR),
  'test.yaml',
);

let redis: RedisServer;
let client: Redis;
let store: Store;
const logLines: string[] = [];

before(async () => {
  redis = await startRedis();
  client = new Redis(redis.url);
  store = createRedisStore(redis.url, { logMaxEntries: 1000, log: createLogger('error') });
  while (!(await store.ping())) await new Promise((resolve) => setTimeout(resolve, 20));
});
after(async () => {
  client.disconnect();
  await store.close();
  await redis.stop();
});
beforeEach(() => {
  logLines.length = 0;
});

function ingestOn(target: Store) {
  const logger = createLogger('info', new Writable({
    write(chunk: Buffer, _encoding, done) {
      logLines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  }));
  return createIngest({
    store: target, destinations, logger, now: () => NOW, dedupTtlMs: DAY,
    traces: new TraceRecorder(), metrics: createMetrics(async () => 0),
    visitorIdForClient: (clientId) => `derived-${clientId}`,
  });
}

/** The jobs the outbox holds (each entry: 'job', its ID, 'body', its JSON), by destination. */
async function queuedJobs(): Promise<Map<string, ConversionJob>> {
  const jobs = new Map<string, ConversionJob>();
  for (const body of await queuedBodies()) {
    const job = JSON.parse(body) as ConversionJob;
    jobs.set(job.destination, job);
  }
  return jobs;
}

async function queuedBodies(): Promise<string[]> {
  const entries = (await client.xrange(keys.outbox, '-', '+')) as Array<[string, string[]]>;
  return entries.map(([, fields]) => fields[3]!);
}

/** A small deterministic generator, so a failure names a trial that repeats. */
function generator(seed: number) {
  let state = seed;
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

test('the one-step accept queues exactly the jobs attributeConversion sends, with the same click', async () => {
  let steps = 0;
  const ingest = ingestOn({ ...store, acceptLastTouch: (...args) => (steps++, store.acceptLastTouch!(...args)) });
  const random = generator(20261125);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  // Repeated ages make ties, within one hash and across the cookie's and the client ID's; 2, 24
  // and 72 h are the windows of solo, cake and tracker to the millisecond.
  const ages = [0.5, 1, 1, 1, 2, 3, 24, 30, 72, 100];
  // What the relay never writes, which both sides must ignore alike.
  const malformed = ['0x1a2125cc780', '+1', 'Infinity', '', '1e3', ' 5', '1234567890123456'];
  let sent = 0;
  let audited = 0;
  for (let trial = 0; trial < 300; trial++) {
    await client.flushdb();
    const layout = pick(['cookie', 'client', 'both', 'same'] as const);
    const visitorId = layout === 'same' ? 'derived-C1' : `cookie-${trial}`;
    const visitor = { id: visitorId, cookie: layout === 'client' ? ('missing' as const) : ('valid' as const), issue: false };
    const event: RelayEvent = { event_name: 'purchase', transaction_id: `T-${trial}`, params: {}, ...(layout === 'cookie' ? {} : { client_id: 'C1' }) };
    const refs: VisitorRef[] = [];
    if (layout !== 'client') refs.push({ kind: 'visitor', id: visitorId });
    if (layout === 'client' || layout === 'both') refs.push({ kind: 'client', id: 'derived-C1' });
    for (const ref of refs) {
      for (const d of destinations) {
        if (random() < 0.5) {
          // Now and then a click ID that JSON must escape (a destination's own pattern may allow it).
          const odd = random() < 0.2 ? pick(['"quoted"', 'back\\slash', 'tab\there', 'ünï/cödé']) : '';
          const at = random() < 0.1 ? pick(malformed) : String(NOW - pick(ages) * HOUR);
          await client.hset(keys.visitor(ref.id), d.id, `${at}|${d.id}-${ref.kind}-${trial}${odd}`);
        }
      }
      if (random() < 0.3) await client.hset(keys.visitor(ref.id), '!cake', `${NOW - HOUR}|a macro`);
    }
    const decisions = attributeConversion({ event, found: await store.clicks.read(refs), lookupGap: undefined, destinations, now: NOW });
    const hit: Hit = { client: 'data', events: [structuredClone(event)], visitor, referer: undefined };
    const result = await ingest(hit);
    const jobs = await queuedJobs();
    const expected = decisions.filter((d) => d.kind === 'send');
    const where = `trial ${trial} (${layout})`;
    assert.deepEqual([...jobs.keys()].sort(), expected.map((d) => d.destination.id).sort(), where);
    for (const decision of expected) {
      const job = jobs.get(decision.destination.id)!;
      assert.equal(job.clickId, decision.clickId, where);
      assert.equal(job.clickSource, decision.source, where);
      assert.equal(job.clickCapturedAt, decision.capturedAt, where);
      assert.equal(job.acceptedAt, NOW, where);
      assert.equal(job.event.transaction_id, `T-${trial}`, where);
    }
    assert.equal(result.accepted, expected.length, where);
    // The audit line carries each job as the store holds it: reconciliation re-creates it from there.
    for (const line of logLines.splice(0).filter((l) => l.includes('conversion.accepted'))) {
      const { job } = JSON.parse(line) as { job: ConversionJob };
      assert.deepEqual(job, jobs.get(job.destination), where);
      audited++;
    }
    sent += expected.length;
  }
  assert.ok(sent > 100, `the trials sent jobs (${sent})`);
  assert.equal(steps, 300, 'every conversion took the one step');
  assert.deepEqual(logLines.filter((line) => line.includes('attribution_mismatch')), []);
  assert.equal(audited, sent);
});

test('a repeated order is a duplicate in the one step too, naming the first job', async () => {
  await client.flushdb();
  await client.hset(keys.visitor('v-dup'), 'cake', `${NOW - HOUR}|CAKE-CLICK-1`);
  const ingest = ingestOn(store);
  const hit = (): Hit => ({
    client: 'data', visitor: { id: 'v-dup', cookie: 'valid', issue: false }, referer: undefined,
    events: [{ event_name: 'purchase', transaction_id: 'ORDER-7', params: {} }],
  });
  assert.equal((await ingest(hit())).accepted, 2, 'cake with its click, meta without one');
  const first = await queuedJobs();
  const again = await ingest(hit());
  assert.equal(again.accepted, 0);
  const dedup = again.traces[0]!.steps.filter((step) => step.stage === 'dedup');
  assert.deepEqual(dedup.map((step) => step.destination).sort(), ['cake', 'meta']);
  assert.ok(dedup.some((step) => step.detail.includes(first.get('cake')!.id)), 'names the first job');
  assert.equal((await client.xlen(keys.outbox)), 2);
});

test('should the store attribute differently, the decided job is accepted anyway and the mismatch reported', async () => {
  await client.flushdb();
  await client.hset(keys.visitor('v-odd'), 'cake', `${NOW - HOUR}|CAKE-CLICK-2`);
  // A store whose one step finds the clicks but accepts nothing: the decisions still stand.
  const lost: Store = { ...store, acceptLastTouch: async (refs) => ({ found: await store.clicks.read(refs), winners: new Map(), results: new Map() }) };
  const result = await ingestOn(lost)({
    client: 'data', visitor: { id: 'v-odd', cookie: 'valid', issue: false }, referer: undefined,
    events: [{ event_name: 'purchase', transaction_id: 'ORDER-8', params: {} }],
  });
  assert.equal(result.accepted, 2);
  assert.equal((await queuedJobs()).get('cake')?.clickId, 'CAKE-CLICK-2');
  assert.equal(logLines.filter((line) => line.includes('conversion.attribution_mismatch')).length, 2);
});

test('run again for the same conversion, the step answers as it did the first time, whatever was stored since', async () => {
  await client.flushdb();
  await client.hset(keys.visitor('v-again'), 'cake', `${NOW - 2 * HOUR}|CAKE-CLICK-3`);
  const refs: VisitorRef[] = [{ kind: 'visitor', id: 'v-again' }];
  const groups = prepareGroups(destinations, { event_name: 'purchase', transaction_id: 'ORDER-9', params: {} });
  // A backlog queued just before it: the job is found by its entry's ID, not by a search.
  const backlog = client.pipeline();
  for (let i = 0; i < 25_000; i++) backlog.xadd(keys.outbox, '*', 'job', `queued-${i}`);
  await backlog.exec();
  const first = await store.acceptLastTouch!(refs, groups, NOW, DAY);
  assert.equal(first.results.get('cake')?.accepted, true);
  // Newer clicks, for the same network and another in the group, land before ioredis re-sends the command.
  await client.hset(keys.visitor('v-again'), 'tracker', `${NOW - HOUR}|TRACK-CLICK-3`, 'cake', `${NOW - HOUR / 2}|CAKE-CLICK-NEWER`);
  const again = await store.acceptLastTouch!(refs, groups, NOW, DAY);
  assert.deepEqual(again.results.get('cake'), { accepted: true }, 'its own job on the dedup key: accepted');
  assert.equal(again.results.get('tracker'), undefined, 'tracker is not tried');
  const affiliate = again.winners.get('affiliate')!;
  assert.equal(affiliate.repeated, true);
  assert.deepEqual(affiliate.click, { destination: 'cake', clickId: 'CAKE-CLICK-3', capturedAt: NOW - 2 * HOUR, via: 'visitor' });
  assert.equal(await client.xlen(keys.outbox), 25_002, 'cake and meta, once each');
});

test('run again after its job left the stream, the step answers from its record, and after its delivery with its network\'s click', async () => {
  await client.flushdb();
  await client.hset(keys.visitor('v-left'), 'cake', `${NOW - 2 * HOUR}|CAKE-CLICK-4`);
  const refs: VisitorRef[] = [{ kind: 'visitor', id: 'v-left' }];
  const groups = prepareGroups(destinations, { event_name: 'purchase', transaction_id: 'ORDER-10', params: {} });
  assert.equal((await store.acceptLastTouch!(refs, groups, NOW, DAY)).results.get('cake')?.accepted, true);
  // Its first attempt failed: the job waits for a retry in its record, no longer in the stream.
  const entries = (await client.xrange(keys.outbox, '-', '+')) as Array<[string, string[]]>;
  const [entry, fields] = entries.find(([, f]) => (JSON.parse(f[3]!) as ConversionJob).destination === 'cake')!;
  await client.xdel(keys.outbox, entry);
  await client.hset(keys.job(fields[1]!), 'job', fields[3]!, 'state', 'retrying');
  // A newer click of the group's other network lands before ioredis re-sends the command.
  await client.hset(keys.visitor('v-left'), 'tracker', `${NOW - HOUR}|TRACK-CLICK-4`);
  const cakeClick = { destination: 'cake', clickId: 'CAKE-CLICK-4', capturedAt: NOW - 2 * HOUR, via: 'visitor' };

  const fromRecord = await store.acceptLastTouch!(refs, groups, NOW, DAY);
  assert.deepEqual(fromRecord.results.get('cake'), { accepted: true });
  assert.deepEqual(fromRecord.winners.get('affiliate'), { click: cakeClick, repeated: true });

  // Delivered at that attempt with only its state kept: the click cake has stored, not the newer one.
  await client.del(keys.job(fields[1]!));
  const delivered = await store.acceptLastTouch!(refs, groups, NOW, DAY);
  assert.deepEqual(delivered.results.get('cake'), { accepted: true });
  assert.equal(delivered.results.get('tracker'), undefined, 'tracker is not tried: the group was paid once');
  assert.deepEqual(delivered.winners.get('affiliate'), { click: cakeClick, repeated: true });
  assert.equal(await client.xlen(keys.outbox), 1, 'meta alone, queued once');
});

const scriptCalls = async () => scriptCallsIn(await client.info('commandstats'));

test('the conversions of one turn share a script call, each answered as it would be alone', async () => {
  const random = generator(4242);
  const count = 150;
  // Shapes of conversion (last-touch.ts) that take turns within a call: a visitor cookie alone, a
  // GA4 client ID alone or both; a purchase or a lead (whose converting destinations differ).
  const refsOf = (i: number): VisitorRef[] => {
    if (i % 3 === 1) return [{ kind: 'visitor', id: `v-${i}` }, { kind: 'client', id: `c-${i}` }];
    return i % 7 === 5 ? [{ kind: 'client', id: `c-${i}` }] : [{ kind: 'visitor', id: `v-${i}` }];
  };
  const conversions = Array.from({ length: count }, (_, i) => ({
    refs: refsOf(i),
    // Some share an order: the first of them in line takes it, the others are duplicates.
    groups: prepareGroups(destinations, {
      event_name: i % 5 === 2 ? 'generate_lead' : 'purchase',
      transaction_id: i % 40 === 3 ? 'T-SHARED' : `T-${i}`,
      params: {},
    }),
  }));
  const clicks = conversions.map((_, i) => ({
    destination: random() < 0.5 ? 'cake' : 'tracker',
    age: [0.5, 1, 30, 100][Math.floor(random() * 4)]! * HOUR,
    stored: random() < 0.8,
    underClient: random() < 0.5,
    id: `CLICK-${i}`,
  }));
  const seed = async () => {
    await client.flushdb();
    for (const [i, click] of clicks.entries()) {
      const refs = refsOf(i);
      const holder = refs[click.underClient ? refs.length - 1 : 0]!.id;
      if (click.stored) await client.hset(keys.visitor(holder), click.destination, `${NOW - click.age}|${click.id}`);
    }
  };
  const outbox = queuedBodies;

  await seed();
  await store.acceptLastTouch!(conversions[0]!.refs, [], NOW, DAY);
  await client.config('RESETSTAT');
  const together = await Promise.all(conversions.map((c) => store.acceptLastTouch!(c.refs, c.groups, NOW, DAY)));
  assert.equal(await scriptCalls(), Math.ceil(count / MAX_CONVERSIONS_PER_CALL));
  const queuedTogether = await outbox();

  await seed();
  const alone = [];
  for (const c of conversions) alone.push(await store.acceptLastTouch!(c.refs, c.groups, NOW, DAY));
  assert.deepEqual(together, alone);
  assert.deepEqual(queuedTogether, await outbox(), 'the same jobs, in the same order');
  const shared = together.filter((_, i) => i % 40 === 3).map((accepts) => accepts.results.get('meta'));
  assert.deepEqual(shared.map((result) => result?.accepted), [true, false, false, false], 'one order, one job');
  assert.ok(queuedTogether.length > count, `most conversions queued a job or two (${queuedTogether.length})`);
});

test('a conversion whose key Redis refuses fails alone; the others of its call are accepted', async () => {
  await client.flushdb();
  await client.set(keys.visitor('v-string'), 'not a hash');
  await client.hset(keys.visitor('v-fine'), 'cake', `${NOW - HOUR}|CAKE-CLICK-9`);
  const accept = (visitor: string, order: string) =>
    store.acceptLastTouch!([{ kind: 'visitor', id: visitor }], prepareGroups(destinations, { event_name: 'purchase', transaction_id: order, params: {} }), NOW, DAY);
  await client.config('RESETSTAT');
  // The one refused is the first of the call, which defines the shape the other two name.
  const [refused, one, other] = await Promise.allSettled([accept('v-string', 'O-2'), accept('v-fine', 'O-1'), accept('v-fine', 'O-3')]);
  assert.equal(await scriptCalls(), 1, 'the three shared one call');
  assert.equal(refused.status, 'rejected');
  assert.ok((refused as PromiseRejectedResult).reason instanceof StoreUnavailableError);
  assert.match(String((refused as PromiseRejectedResult).reason.message), /WRONGTYPE/);
  for (const settled of [one, other]) {
    assert.equal(settled.status, 'fulfilled');
    assert.equal((settled as PromiseFulfilledResult<LastTouchAccepts>).value.results.get('cake')?.accepted, true);
  }
  const jobs = (await client.xrange(keys.outbox, '-', '+')).length;
  assert.equal(jobs, 4, 'cake and meta for each of the two orders that were read');
});

test('a conversion whose script part raises an error fails alone, whatever raised it', async () => {
  await client.flushdb();
  await client.hset(keys.visitor('v-repeat'), 'cake', `${NOW - HOUR}|CAKE-CLICK-10`);
  const groups = (order: string) => prepareGroups(destinations, { event_name: 'purchase', transaction_id: order, params: {} });
  const repeated = groups('O-REPEAT');
  await store.acceptLastTouch!([{ kind: 'visitor', id: 'v-repeat' }], repeated, NOW, DAY);
  // The first run's jobs, moved to records for a retry and damaged there: a run again for the same
  // conversion reads them back.
  for (const [entry, fields] of (await client.xrange(keys.outbox, '-', '+')) as Array<[string, string[]]>) {
    await client.xdel(keys.outbox, entry);
    await client.hset(keys.job(fields[1]!), 'job', 'not JSON', 'state', 'retrying');
  }
  await client.config('RESETSTAT');
  const [again, fresh] = await Promise.allSettled([
    store.acceptLastTouch!([{ kind: 'visitor', id: 'v-repeat' }], repeated, NOW, DAY),
    store.acceptLastTouch!([{ kind: 'visitor', id: 'v-repeat' }], groups('O-FRESH'), NOW, DAY),
  ]);
  assert.equal(await scriptCalls(), 1, 'the two shared one call');
  assert.equal(again.status, 'rejected');
  assert.ok((again as PromiseRejectedResult).reason instanceof StoreUnavailableError);
  assert.equal(fresh.status, 'fulfilled', 'the other conversion of the call is accepted');
  assert.equal((fresh as PromiseFulfilledResult<LastTouchAccepts>).value.results.get('cake')?.accepted, true);
});

test('a page view with nothing to store is decided at once; a hit with a conversion waits, its events in order', async () => {
  await client.flushdb();
  await client.hset(keys.visitor('v-sync'), 'cake', `${NOW - HOUR}|CAKE-CLICK-2`);
  const ingest = ingestOn(store);
  const visitor = { id: 'v-sync', cookie: 'valid' as const, issue: false };
  const pageView = (): RelayEvent => ({ event_name: 'page_view', page_location: 'https://shop.example/p', params: {} });

  const viewed = ingest({ client: 'ga4', visitor, referer: undefined, events: [pageView()] });
  assert.ok(!(viewed instanceof Promise), 'a page view answers without a promise');
  assert.deepEqual(viewed.traces.map((t) => t.event_name), ['page_view']);

  const hit = ingest({
    client: 'ga4', visitor, referer: undefined,
    events: [pageView(), { event_name: 'purchase', transaction_id: 'ORDER-SYNC', params: {} }, pageView()],
  });
  assert.ok(hit instanceof Promise, 'a conversion waits for the store');
  const result = await hit;
  assert.deepEqual(result.traces.map((t) => t.event_name), ['page_view', 'purchase', 'page_view']);
  assert.equal(result.accepted, 2, 'cake with its click, meta without one');
  assert.equal((await queuedJobs()).get('cake')?.clickId, 'CAKE-CLICK-2');
});
