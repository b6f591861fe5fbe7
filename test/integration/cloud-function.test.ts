import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { http } from '@google-cloud/functions-framework';
import { getTestServer } from '@google-cloud/functions-framework/testing';
import request from 'supertest';
import { loadConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/log.js';
import { createRelay, type Relay } from '../../src/relay.js';
import { startRedis, type RedisServer } from '../helpers/redis-server.js';
import { ADMIN_TOKEN, COOKIE_SECRET } from '../helpers/relay.js';
import { CAKE_SUCCESS, Sink } from '../helpers/sink.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';

/**
 * The Cloud Functions entry, inside functions-framework's own express server: it parses bodies
 * before the relay sees them, and there is no background worker.
 */
let redis: RedisServer;
let sink: Sink;
let relay: Relay;

before(async () => {
  redis = await startRedis();
  sink = await new Sink(() => CAKE_SUCCESS).start();
  const path = join(mkdtempSync(join(tmpdir(), 'relay-fn-')), 'relay.yaml');
  writeFileSync(path, stringify({
    destinations: [{
      id: 'cake', template: 'cake-api-v2', mode: 'live', clickParams: ['s1'],
      settings: { baseUrl: sink.baseUrl, offer_id: '7', api_key: 'fn-key-123456' },
    }],
  }));
  const config = loadConfig({ RELAY_CONFIG: path, REDIS_URL: redis.url, RELAY_ADMIN_TOKEN: ADMIN_TOKEN, RELAY_COOKIE_SECRET: COOKIE_SECRET });
  relay = createRelay(config, { logger: createLogger('error'), host: 'function' });
  http('relay-under-test', await relay.app());
  for (let i = 0; !(await relay.store.ping()); i++) {
    if (i > 100) throw new Error('store never ready');
    await new Promise((r) => setTimeout(r, 20));
  }
});
after(async () => {
  await relay.close(1_000);
  await sink.stop();
  await redis.stop();
});

test('function mode: landing, then purchase delivered inside the request, with pre-parsed bodies', async () => {
  const server = getTestServer('relay-under-test');
  const landing = await request(server)
    .post('/data')
    .set('content-type', 'application/json')
    .send({ event_name: 'page_view', page_location: 'https://shop.example/?s1=fn-click-0001' });
  assert.equal(landing.status, 200);
  const cookie = landing.headers['set-cookie']![0]!.split(';')[0]!;
  const purchase = await request(getTestServer('relay-under-test'))
    .post('/data')
    .set('content-type', 'text/plain')
    .set('cookie', cookie)
    .send(JSON.stringify({ event_name: 'purchase', transaction_id: 'FN-1', value: 10 }));
  assert.equal(purchase.status, 200);
  // Delivered before the answer: the function has no CPU after it.
  assert.equal(sink.requests.length, 1);
  assert.equal(sink.requests[0]!.url.searchParams.get('click_id'), 'fn-click-0001');
});

test('function mode: a GA4 batch body and the body limit still apply behind the framework\'s parser', async () => {
  const ga4 = await request(getTestServer('relay-under-test'))
    .post('/g/collect?v=2&tid=G-1&cid=9.9')
    .set('content-type', 'text/plain')
    .send('en=page_view&dl=https%3A%2F%2Fshop.example%2F\nen=scroll');
  assert.equal(ga4.status, 204);
  const big = await request(getTestServer('relay-under-test'))
    .post('/data')
    .set('content-type', 'application/json')
    .send({ event_name: 'page_view', pad: 'x'.repeat(70_000) });
  assert.equal(big.status, 413);
  assert.equal(big.body.error.code, 'RELAY_BODY_TOO_LARGE');
});

test('function mode: /admin/drain delivers what is due and reports the backlog', async () => {
  const res = await request(getTestServer('relay-under-test'))
    .post('/admin/drain?budget_ms=2000')
    .set('authorization', `Bearer ${ADMIN_TOKEN}`);
  assert.equal(res.status, 200);
  assert.deepEqual(res.body, { attempted: 0, backlog: 0 });
  const health = await request(getTestServer('relay-under-test')).get('/healthy');
  assert.equal(health.status, 200);
});
