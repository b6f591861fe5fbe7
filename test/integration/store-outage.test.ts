import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Browser } from '../helpers/browser.js';
import { startRedis, type RedisServer } from '../helpers/redis-server.js';
import { cakeDestination, startRelay } from '../helpers/relay.js';
import { Sink } from '../helpers/sink.js';

let redis: RedisServer;
let sink: Sink;

before(async () => {
  redis = await startRedis({ appendonly: true });
  sink = await new Sink().start();
});
after(async () => {
  await sink.stop();
  await redis.stop();
});

async function until(check: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await sleep(50);
  }
}

// Stopping the server needs one the tests started; a REDIS_URL server is not theirs to stop.
const ownServer = process.env.REDIS_URL ? 'needs a redis-server started by the tests (REDIS_URL is set)' : false;

test('Redis stopped: captures and conversions get 503 and /ready 503, /healthy 200; back: works again', { skip: ownServer }, async (t) => {
  const relay = await startRelay(t, { redisUrl: redis.url, config: { destinations: [cakeDestination(sink.baseUrl)] } });
  const browser = new Browser(relay.url);
  assert.equal((await browser.land('https://www.shop.example/?s1=click-before-outage')).status, 200);
  assert.equal((await fetch(`${relay.url}/ready`)).status, 200);

  await redis.kill();
  const started = Date.now();
  const landing = await browser.land('https://www.shop.example/?s1=click-during-outage');
  assert.equal(landing.status, 503, 'a capture that was not stored is not acknowledged');
  assert.equal(landing.headers.get('retry-after'), '1');
  const body = (await landing.json()) as { error: { code: string } };
  assert.equal(body.error.code, 'RELAY_STORE_UNAVAILABLE');
  assert.equal((await browser.purchase('ORDER-OUTAGE')).status, 503, 'never a 2xx for a conversion not durably accepted');
  assert.ok(Date.now() - started < 5_000, 'the request path fails fast instead of hanging');
  assert.equal((await fetch(`${relay.url}/ready`)).status, 503);
  assert.equal((await fetch(`${relay.url}/healthy`)).status, 200);
  // Operators still get answers: metrics from what the process knows, the admin API a clear 503.
  const metrics = await fetch(`${relay.url}/metrics`, { signal: AbortSignal.timeout(5_000) });
  assert.equal(metrics.status, 200);
  const adminLog = await relay.adminGet('/admin/postbacks');
  assert.equal(adminLog.status, 503);
  assert.equal(((await adminLog.json()) as { error: { code: string } }).error.code, 'RELAY_STORE_UNAVAILABLE');
  // A page view needs no store: it is still answered.
  assert.equal((await browser.send({ event_name: 'page_view', page_location: 'https://www.shop.example/' })).status, 200);

  await redis.restart();
  await until(async () => (await fetch(`${relay.url}/ready`)).status === 200);
  // The tag retries the same order: accepted now, delivered once, with the click stored before the outage.
  await until(async () => (await browser.purchase('ORDER-OUTAGE')).status === 200);
  await sink.waitFor(1);
  assert.equal(sink.requests.length, 1);
  assert.equal(sink.requests[0]!.url.searchParams.get('click_id'), 'click-before-outage');
  assert.equal(sink.requests[0]!.url.searchParams.get('unique_id'), 'ORDER-OUTAGE');
});
