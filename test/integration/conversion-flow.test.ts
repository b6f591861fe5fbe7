import assert from 'node:assert/strict';
import { after, afterEach, before, beforeEach, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { Browser } from '../helpers/browser.js';
import { startRedis, type RedisServer } from '../helpers/redis-server.js';
import { cakeDestination, startRelay, TestClock } from '../helpers/relay.js';
import { CAKE_SUCCESS, Sink } from '../helpers/sink.js';

const CLICK = 'a1b2c3d4-e5f6-4711-8899-aabbccddeeff';
const LANDING = `https://www.shop.example/offer?s1=${CLICK}&utm_source=aff`;

let redis: RedisServer;
let sink: Sink;

before(async () => {
  redis = await startRedis();
});
after(async () => {
  await redis.stop();
});
beforeEach(async () => {
  await redis.flush();
  sink = await new Sink().start();
});
afterEach(() => sink.stop());

/** A relay on a hand-moved clock, with a 24 h window, and a visitor who has just landed. */
async function landedOnClock(t: { after(fn: () => unknown): void }) {
  const clock = new TestClock();
  const relay = await startRelay(t, {
    redisUrl: redis.url, clock,
    config: { destinations: [cakeDestination(sink.baseUrl, { sessionHours: 24 })] },
  });
  const browser = new Browser(relay.url);
  await browser.land(LANDING);
  return { clock, relay, browser };
}

const conversionsAt = (s: Sink) => s.requests.filter((r) => r.url.pathname === '/api/2/conversion.json');

describe('capture and conversion, end to end on Redis', () => {
  test('a landing stores the click and sets the signed first-party cookie', async (t) => {
    const relay = await startRelay(t, { redisUrl: redis.url, config: { destinations: [cakeDestination(sink.baseUrl)] } });
    const browser = new Browser(relay.url);
    const res = await browser.land(LANDING);
    assert.equal(res.status, 200);
    const cookie = browser.lastSetCookie ?? '';
    assert.match(cookie, /^rl_vid=[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{22};/);
    for (const attribute of ['HttpOnly', 'SameSite=Lax', 'Path=/', `Max-Age=${395 * 86400}`]) {
      assert.ok(cookie.includes(attribute), `cookie lacks ${attribute}: ${cookie}`);
    }
    assert.ok(!cookie.includes('Secure'), 'plain HTTP gets no Secure flag');
    const https = await new Browser(relay.url).request(`/data?event_name=page_view&page_location=${encodeURIComponent(LANDING)}`, {
      headers: { 'x-forwarded-proto': 'https' },
    });
    assert.match(https.headers.get('set-cookie') ?? '', /; Secure/);
    const [trace] = ((await (await relay.adminGet('/admin/events?limit=2')).json()) as { events: Array<{ steps: Array<Record<string, string>> }> }).events.slice(-1);
    assert.ok(trace!.steps.some((s) => s.stage === 'capture' && s.decision === 'stored' && s.detail === `s1=${CLICK}`));
  });

  test('a purchase sends exactly one postback with the stored click, offer, key and order', async (t) => {
    const relay = await startRelay(t, { redisUrl: redis.url, config: { destinations: [cakeDestination(sink.baseUrl)] } });
    const browser = new Browser(relay.url);
    await browser.land(LANDING);
    const res = await browser.purchase('ORDER-1001');
    assert.equal(res.status, 200);
    await sink.waitFor(1);
    const [hit] = conversionsAt(sink);
    assert.equal(hit!.method, 'GET');
    const q = hit!.url.searchParams;
    assert.equal(q.get('click_id'), CLICK);
    assert.equal(q.get('offer_id'), '42');
    assert.equal(q.get('api_key'), 'cake-secret-key-123');
    assert.equal(q.get('unique_id'), 'ORDER-1001');
    const log = await relay.waitForLog((e) => e.some((x) => x.status === 'success'));
    const success = log.find((x) => x.status === 'success')!;
    assert.equal(success.transaction_id, 'ORDER-1001');
    assert.equal(success.click_id, CLICK);
    assert.ok(!JSON.stringify(log).includes('cake-secret-key-123'), 'the API key never reaches the postback log');
    assert.ok(!relay.logLines.join('\n').includes('cake-secret-key-123'), 'the API key never reaches a log line');
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(conversionsAt(sink).length, 1);
  });

  test('the same purchase again, from another client, is logged duplicate and never sent twice', async (t) => {
    const relay = await startRelay(t, { redisUrl: redis.url, config: { destinations: [cakeDestination(sink.baseUrl)] } });
    const browser = new Browser(relay.url);
    await browser.land(LANDING);
    await browser.purchase('ORDER-2002');
    await sink.waitFor(1);
    // The confirmation page's GA4 tag reports the same order: same visitor cookie, another client.
    const ga4 = await browser.request(
      `/g/collect?v=2&tid=G-TEST&cid=111.222&en=purchase&ep.transaction_id=ORDER-2002&epn.value=49.9&cu=EUR`,
      { method: 'POST' },
    );
    assert.equal(ga4.status, 204);
    const again = await browser.purchase('ORDER-2002');
    assert.equal(again.status, 200);
    const log = await relay.waitForLog((e) => e.filter((x) => x.status === 'duplicate').length >= 2);
    const duplicate = log.find((x) => x.status === 'duplicate')!;
    assert.match(String(duplicate.reason), /already accepted/);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(conversionsAt(sink).length, 1);
  });

  test('placeholder and empty click IDs are refused, nothing stored, and the purchase says why', async (t) => {
    const relay = await startRelay(t, { redisUrl: redis.url, config: { destinations: [cakeDestination(sink.baseUrl)] } });
    for (const [landing, why] of [
      ['https://www.shop.example/?s1={clickid}', /macro|placeholder/],
      ['https://www.shop.example/?s1=%7Bclickid%7D', /macro|placeholder/],
      ['https://www.shop.example/?s1=%23s2%23', /#macro#/],
      ['https://www.shop.example/?s1=', /empty/],
      ['https://www.shop.example/?s1=REPLACE', /placeholder/],
    ] as const) {
      const browser = new Browser(relay.url);
      await browser.land(landing);
      const order = `ORDER-${Math.random().toString(36).slice(2)}`;
      await browser.purchase(order);
      const [entry] = await relay.postbacks({ transaction_id: order });
      assert.equal(entry?.status, 'no_click', landing);
      assert.match(String(entry?.reason), why, landing);
    }
    const browser = new Browser(relay.url);
    await browser.land('https://www.shop.example/?s1={clickid}');
    // Nothing stored as a click: only the refusal note, under the visitor's hash.
    const direct = new Redis(redis.url);
    t.after(() => direct.disconnect());
    const visitorId = browser.cookie!.split('=')[1]!.split('.')[0]!;
    assert.deepEqual(Object.keys(await direct.hgetall(`rl:v:{${visitorId}}`)), ['!cake']);
    await browser.purchase('ORDER-MACRO');
    const [entry] = await relay.postbacks({ transaction_id: 'ORDER-MACRO' });
    assert.match(String(entry!.reason), /refused.*\{clickid\}.*never expanded/);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(conversionsAt(sink).length, 0, 'no postback for a refused click');
  });

  test('last touch: a newer click replaces the older one, across destinations of the group', async (t) => {
    const everflowLike = {
      id: 'tracker', template: 'generic-get', mode: 'live', clickParams: ['clickid'], sessionHours: 720,
      settings: { url: `${sink.baseUrl}/postback` }, retry: { delaysSeconds: [0.05] },
    };
    const relay = await startRelay(t, { redisUrl: redis.url, config: { destinations: [cakeDestination(sink.baseUrl), everflowLike] } });
    const browser = new Browser(relay.url);
    await browser.land('https://www.shop.example/?s1=first-click-0001');
    await browser.land('https://www.shop.example/?s1=second-click-0002');
    await browser.purchase('ORDER-LT1');
    await sink.waitFor(1);
    assert.equal(conversionsAt(sink)[0]!.url.searchParams.get('click_id'), 'second-click-0002');
    // A later click from another network in the same attribution group takes the next sale.
    await browser.land('https://www.shop.example/?clickid=TRACKERCLICK123456');
    await browser.purchase('ORDER-LT2');
    await sink.waitFor(2);
    const trackerHit = sink.requests.find((r) => r.url.pathname === '/postback')!;
    assert.equal(trackerHit.url.searchParams.get('clickid'), 'TRACKERCLICK123456');
    const cakeEntry = (await relay.postbacks({ transaction_id: 'ORDER-LT2', destination: 'cake' }))[0]!;
    assert.equal(cakeEntry.status, 'no_click');
    assert.match(String(cakeEntry.reason), /last touch.*"tracker"/);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(conversionsAt(sink).length, 1, 'one sale pays one network');
  });

  test('without the relay cookie, the GA4 client_id still attributes the purchase', async (t) => {
    const relay = await startRelay(t, { redisUrl: redis.url, config: { destinations: [cakeDestination(sink.baseUrl)] } });
    const landing = new Browser(relay.url);
    const dl = encodeURIComponent(LANDING);
    const res = await landing.request(`/g/collect?v=2&tid=G-TEST&cid=555.777&en=page_view&dl=${dl}`, { method: 'POST' });
    assert.equal(res.status, 204);
    const cookieless = new Browser(relay.url);
    await cookieless.request(`/g/collect?v=2&tid=G-TEST&cid=555.777&en=purchase&ep.transaction_id=ORDER-CID&epn.value=10`, { method: 'POST' });
    await sink.waitFor(1);
    assert.equal(conversionsAt(sink)[0]!.url.searchParams.get('click_id'), CLICK);
    const events = ((await (await relay.adminGet('/admin/events?transaction_id=ORDER-CID')).json()) as { events: Array<{ steps: Array<Record<string, string>> }> }).events;
    assert.ok(events[0]!.steps.some((s) => s.decision === 'attributed' && /GA4 client_id/.test(s.detail!)));
  });

  test('an explicit click_id on the conversion wins over the stored click', async (t) => {
    const relay = await startRelay(t, { redisUrl: redis.url, config: { destinations: [cakeDestination(sink.baseUrl)] } });
    const browser = new Browser(relay.url);
    await browser.land(LANDING);
    await browser.purchase('ORDER-EXPLICIT', { click_id: 'explicit-click-777' });
    await sink.waitFor(1);
    assert.equal(conversionsAt(sink)[0]!.url.searchParams.get('click_id'), 'explicit-click-777');
  });

  test('a click older than the session window is recorded expired_click and not sent', async (t) => {
    const { clock, relay, browser } = await landedOnClock(t);
    clock.advance(30 * 3_600_000);
    await browser.purchase('ORDER-LATE');
    const [entry] = await relay.postbacks({ transaction_id: 'ORDER-LATE' });
    assert.equal(entry!.status, 'expired_click');
    assert.match(String(entry!.reason), /24\.0 h session window by 6\.00 h/);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(conversionsAt(sink).length, 0);
  });

  test('in real time too: a click past its window is still reported expired_click, not no_click', async (t) => {
    // 0.0005 h = 1.8 s; the click is kept past its window so the late conversion can be explained.
    const relay = await startRelay(t, { redisUrl: redis.url, config: { destinations: [cakeDestination(sink.baseUrl, { sessionHours: 0.0005 })] } });
    const browser = new Browser(relay.url);
    await browser.land(LANDING);
    await new Promise((r) => setTimeout(r, 2_300));
    await browser.purchase('ORDER-LATE-REAL');
    const [entry] = await relay.postbacks({ transaction_id: 'ORDER-LATE-REAL' });
    assert.equal(entry!.status, 'expired_click');
  });

  test('the same click seen again keeps its first capture time: the window runs from the click', async (t) => {
    const { clock, relay, browser } = await landedOnClock(t);
    clock.advance(20 * 3_600_000);
    await browser.land(LANDING); // a reload of the landing page, 20 h later
    clock.advance(5 * 3_600_000);
    await browser.purchase('ORDER-RELOADED');
    const [entry] = await relay.postbacks({ transaction_id: 'ORDER-RELOADED' });
    assert.equal(entry!.status, 'expired_click');
  });

  test('an env-substituted value in a setting is redacted wherever the request is shown', async (t) => {
    const tracker = {
      id: 'tracker', template: 'generic-get', mode: 'live', clickParams: ['clickid'],
      settings: { url: `${sink.baseUrl}/pb/\${TRACKER_TOKEN}` }, retry: { delaysSeconds: [0.05] },
    };
    sink.script = () => ({ status: 200, body: 'ok' });
    const relay = await startRelay(t, { redisUrl: redis.url, env: { TRACKER_TOKEN: 'tok-9f8e7d6c5b' }, config: { destinations: [tracker] } });
    const browser = new Browser(relay.url);
    await browser.land('https://www.shop.example/?clickid=TRK-CLICK-12345');
    await browser.purchase('ORDER-TOKEN');
    const log = await relay.waitForLog((e) => e.some((x) => x.status === 'accepted_unverified'));
    assert.equal(sink.requests[0]!.url.pathname, '/pb/tok-9f8e7d6c5b', 'the real request carries the token');
    assert.match(JSON.stringify(log), /\/pb\/<redacted>/);
    assert.ok(!JSON.stringify(log).includes('tok-9f8e7d6c5b'));
    assert.ok(!relay.logLines.join('\n').includes('tok-9f8e7d6c5b'));
  });

  test('an ad-platform destination receives every conversion, clicked or not (dry run: nothing leaves)', async (t) => {
    const ga4 = {
      id: 'ga4', template: 'ga4-measurement-protocol', mode: 'dry_run',
      settings: { measurement_id: 'G-TEST12345', api_secret: 'ga4-secret-abcdef' },
    };
    const relay = await startRelay(t, { redisUrl: redis.url, config: { destinations: [cakeDestination(sink.baseUrl), ga4] } });
    const browser = new Browser(relay.url);
    // No landing at all: the affiliate network has nothing to be paid for, GA4 still gets the sale.
    await browser.request('/g/collect?v=2&tid=G-TEST12345&cid=777.888&en=purchase&ep.transaction_id=ORDER-GA4&epn.value=20&cu=EUR', { method: 'POST' });
    const log = await relay.waitForLog((e) => e.some((x) => x.status === 'dry_run'));
    const ga4Entry = log.find((x) => x.destination === 'ga4') as { status: string; request: { url: string; body: string } };
    assert.equal(ga4Entry.status, 'dry_run');
    assert.match(ga4Entry.request.url, /^https:\/\/www\.google-analytics\.com\/mp\/collect\?measurement_id=G-TEST12345&api_secret=<redacted>$/);
    const body = JSON.parse(ga4Entry.request.body) as { client_id: string; events: Array<{ name: string; params: { transaction_id: string; value: number } }> };
    assert.equal(body.client_id, '777.888');
    assert.deepEqual([body.events[0]!.name, body.events[0]!.params.transaction_id, body.events[0]!.params.value], ['purchase', 'ORDER-GA4', 20]);
    assert.equal((await relay.postbacks({ destination: 'cake', transaction_id: 'ORDER-GA4' }))[0]!.status, 'no_click');
    assert.equal(sink.requests.length, 0);
  });

  test('the network answers 503 twice, then success: delivered once, each attempt logged', async (t) => {
    sink.script = (_req, i) => (i < 2 ? { status: 503, body: 'Service Unavailable' } : CAKE_SUCCESS);
    const relay = await startRelay(t, { redisUrl: redis.url, config: { destinations: [cakeDestination(sink.baseUrl)] } });
    const browser = new Browser(relay.url);
    await browser.land(LANDING);
    await browser.purchase('ORDER-RETRY');
    const log = await relay.waitForLog((e) => e.some((x) => x.status === 'success'));
    const mine = log.filter((x) => x.transaction_id === 'ORDER-RETRY').reverse();
    assert.deepEqual(mine.map((x) => x.status), ['retrying', 'retrying', 'success']);
    assert.deepEqual(mine.map((x) => x.attempt), [1, 2, 3]);
    assert.equal(conversionsAt(sink).length, 3);
    assert.equal(new Set(conversionsAt(sink).map((r) => r.url.searchParams.get('unique_id'))).size, 1);
  });

  test('"Invalid click_id" from the network is recorded invalid_click and not retried', async (t) => {
    sink.script = () => ({ status: 200, body: JSON.stringify({ request_status: 'Failure', message: 'Invalid click_id' }) });
    const relay = await startRelay(t, { redisUrl: redis.url, config: { destinations: [cakeDestination(sink.baseUrl)] } });
    const browser = new Browser(relay.url);
    await browser.land(LANDING);
    await browser.purchase('ORDER-INVALID');
    const log = await relay.waitForLog((e) => e.some((x) => x.status === 'invalid_click'));
    assert.equal(log.filter((x) => x.transaction_id === 'ORDER-INVALID').length, 1);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(conversionsAt(sink).length, 1, 'a business rejection is final');
  });

  test('a network that echoes the API key in its error answer does not leak it into the log', async (t) => {
    sink.script = (req) => ({ status: 400, body: `Bad request: api_key=${req.url.searchParams.get('api_key')} is not valid for offer 42` });
    const relay = await startRelay(t, { redisUrl: redis.url, config: { destinations: [cakeDestination(sink.baseUrl)] } });
    const browser = new Browser(relay.url);
    await browser.land(LANDING);
    await browser.purchase('ORDER-ECHO');
    const log = await relay.waitForLog((e) => e.some((x) => x.status === 'rejected'));
    const entry = log.find((x) => x.status === 'rejected') as { response: { status: number; body: string }; reason: string };
    assert.equal(entry.response.status, 400);
    assert.match(entry.response.body, /api_key=<redacted> is not valid/);
    assert.ok(!JSON.stringify(log).includes('cake-secret-key-123'));
    assert.ok(!relay.logLines.join('\n').includes('cake-secret-key-123'));
  });

  test('a tampered cookie is not trusted: the click under the real visitor ID is not reachable', async (t) => {
    const relay = await startRelay(t, { redisUrl: redis.url, config: { destinations: [cakeDestination(sink.baseUrl)] } });
    const victim = new Browser(relay.url);
    await victim.land(LANDING);
    const [name, value] = victim.cookie!.split('=') as [string, string];
    const [id] = value.split('.');
    const forger = new Browser(relay.url);
    forger.cookie = `${name}=${id}.${'A'.repeat(22)}`;
    await forger.purchase('ORDER-FORGED');
    const newCookie = forger.lastSetCookie ?? '';
    assert.ok(newCookie.startsWith(`${name}=`) && !newCookie.startsWith(`${name}=${id}.`), 'a new visitor ID replaces the forged one');
    const [entry] = await relay.postbacks({ transaction_id: 'ORDER-FORGED' });
    assert.equal(entry!.status, 'no_click');
    assert.match(String(entry!.reason), /failed signature verification/);
    const unsigned = new Browser(relay.url);
    unsigned.cookie = `${name}=${id}`;
    await unsigned.purchase('ORDER-UNSIGNED');
    assert.equal((await relay.postbacks({ transaction_id: 'ORDER-UNSIGNED' }))[0]!.status, 'no_click');
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(conversionsAt(sink).length, 0);
  });

  test('dry_run renders and logs the postback with secrets redacted, and sends nothing', async (t) => {
    const relay = await startRelay(t, {
      redisUrl: redis.url,
      config: { destinations: [cakeDestination(sink.baseUrl, { mode: 'dry_run' })] },
    });
    const browser = new Browser(relay.url);
    await browser.land(LANDING);
    await browser.purchase('ORDER-DRY');
    const log = await relay.waitForLog((e) => e.some((x) => x.status === 'dry_run'));
    const entry = log.find((x) => x.status === 'dry_run') as { request: { url: string } };
    const url = new URL(entry.request.url);
    assert.equal(url.searchParams.get('click_id'), CLICK);
    assert.equal(url.searchParams.get('api_key'), '<redacted>');
    assert.equal(conversionsAt(sink).length, 0);
  });
});
