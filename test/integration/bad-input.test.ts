import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startRedis, type RedisServer } from '../helpers/redis-server.js';
import { ADMIN_TOKEN, cakeDestination, startRelay, type StartedRelay } from '../helpers/relay.js';

let redis: RedisServer;
before(async () => {
  redis = await startRedis();
});
after(async () => {
  await redis.stop();
});

interface Case {
  name: string;
  path: string;
  init?: RequestInit;
  status: number;
  code: string;
  message: RegExp;
}

const json = (body: string, type = 'application/json'): RequestInit => ({
  method: 'POST',
  headers: { 'content-type': type },
  body,
});

const cases: Case[] = [
  { name: 'malformed JSON', path: '/data', init: json('{"event_name": "purchase",'), status: 400, code: 'RELAY_BODY_MALFORMED', message: /not valid JSON/ },
  { name: 'body over 64 KB', path: '/data', init: json(JSON.stringify({ event_name: 'page_view', pad: 'x'.repeat(70_000) })), status: 413, code: 'RELAY_BODY_TOO_LARGE', message: /65536 bytes/ },
  { name: 'GA4 body over 64 KB', path: '/g/collect?v=2&en=page_view', init: { method: 'POST', body: `en=x&ep.a=${'y'.repeat(70_000)}` }, status: 413, code: 'RELAY_BODY_TOO_LARGE', message: /exceeds/ },
  { name: 'value that is not a number', path: '/data', init: json('{"event_name":"purchase","value":"lots"}'), status: 400, code: 'RELAY_EVENT_INVALID', message: /"value" must be a number/ },
  { name: 'transaction_id as an object', path: '/data', init: json('{"event_name":"purchase","transaction_id":{"a":1}}'), status: 400, code: 'RELAY_EVENT_INVALID', message: /"transaction_id" must be a string or a number/ },
  { name: 'event_name with spaces', path: '/data', init: json('{"event_name":"buy now"}'), status: 400, code: 'RELAY_EVENT_INVALID', message: /event_name/ },
  { name: 'an array item that is not an object', path: '/data', init: json('[{"event_name":"page_view"}, 3]'), status: 400, code: 'RELAY_EVENT_INVALID', message: /event 2: each event must be a JSON object/ },
  { name: 'a JSON string body', path: '/data', init: json('"hello"'), status: 400, code: 'RELAY_EVENT_INVALID', message: /JSON object/ },
  { name: 'an empty array', path: '/data', init: json('[]'), status: 400, code: 'RELAY_EVENT_INVALID', message: /no events/ },
  { name: 'a form body', path: '/data', init: json('a=b', 'application/x-www-form-urlencoded'), status: 415, code: 'RELAY_UNSUPPORTED_MEDIA_TYPE', message: /application\/json or text\/plain/ },
  { name: 'consent of the wrong shape', path: '/data', init: json('{"event_name":"page_view","consent":"no"}'), status: 400, code: 'RELAY_EVENT_INVALID', message: /consent/ },
  { name: 'GA4 hit without an event name', path: '/g/collect?v=2&tid=G-1&cid=1.2', init: { method: 'POST' }, status: 400, code: 'RELAY_EVENT_INVALID', message: /"en" is missing/ },
  { name: 'GA4 epn that is not a number', path: '/g/collect?v=2&en=purchase&epn.value=abc', init: { method: 'POST' }, status: 400, code: 'RELAY_EVENT_INVALID', message: /"epn.value" must be a number/ },
  { name: 'pixel value that is not a number', path: '/data?event_name=purchase&value=ten', status: 400, code: 'RELAY_EVENT_INVALID', message: /"value" must be a number/ },
  { name: 'parameters nested too deep', path: '/data', init: json(`{"event_name":"purchase","x":${'['.repeat(5000)}${']'.repeat(5000)}}`), status: 400, code: 'RELAY_EVENT_INVALID', message: /"x" must be nested at most 8 levels deep/ },
  { name: 'DELETE on /data', path: '/data', init: { method: 'DELETE' }, status: 405, code: 'RELAY_METHOD_NOT_ALLOWED', message: /use GET or POST/ },
  { name: 'an origin not allowed', path: '/data', init: { ...json('{"event_name":"page_view"}'), headers: { 'content-type': 'application/json', origin: 'https://evil.example' } }, status: 403, code: 'RELAY_ORIGIN_NOT_ALLOWED', message: /allowedOrigins/ },
  { name: 'an admin call without a token', path: '/admin/postbacks', status: 401, code: 'RELAY_ADMIN_UNAUTHORIZED', message: /Bearer/ },
  { name: 'an admin call with a wrong token', path: '/admin/postbacks', init: { headers: { authorization: 'Bearer wrong-token-wrong-token' } }, status: 401, code: 'RELAY_ADMIN_UNAUTHORIZED', message: /Bearer/ },
  { name: 'an admin limit out of range', path: '/admin/postbacks?limit=0', init: { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } }, status: 400, code: 'RELAY_QUERY_INVALID', message: /limit/ },
  { name: 'an unknown path', path: '/nope', status: 404, code: 'RELAY_NOT_FOUND', message: /no route/ },
  { name: 'POST on a probe', path: '/healthy', init: { method: 'POST' }, status: 404, code: 'RELAY_NOT_FOUND', message: /no route for POST \/healthy/ },
];

describe('bad input gets a clear 4xx, never a 5xx, and the process stays up', () => {
  let relay: StartedRelay;
  const cleanups: Array<() => unknown> = [];
  after(() => Promise.all(cleanups.map((fn) => fn())));
  before(async () => {
    relay = await startRelay({ after: (fn) => cleanups.push(fn) }, {
      redisUrl: redis.url,
      config: { allowedOrigins: ['https://www.shop.example'], destinations: [cakeDestination('http://127.0.0.1:9')] },
    });
  });

  for (const c of cases) {
    test(c.name, async () => {
      const res = await fetch(relay.url + c.path, c.init);
      assert.equal(res.status, c.status);
      const body = (await res.json()) as { error: { code: string; message: string } };
      assert.equal(body.error.code, c.code);
      assert.match(body.error.message, c.message);
    });
  }

  test('an allowed origin gets CORS with credentials for its exact origin', async () => {
    const res = await fetch(`${relay.url}/data`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain', origin: 'https://www.shop.example' },
      body: JSON.stringify({ event_name: 'page_view' }),
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('access-control-allow-origin'), 'https://www.shop.example');
    assert.equal(res.headers.get('access-control-allow-credentials'), 'true');
    const preflight = await fetch(`${relay.url}/g/collect`, { method: 'OPTIONS', headers: { origin: 'https://www.shop.example' } });
    assert.equal(preflight.status, 204);
  });

  test('the pixel answers a 1×1 GIF', async () => {
    const res = await fetch(`${relay.url}/data?event_name=page_view&page_location=${encodeURIComponent('https://www.shop.example/')}`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'image/gif');
    assert.equal(Buffer.from(await res.arrayBuffer()).subarray(0, 6).toString(), 'GIF89a');
  });

  test('after all of that the relay still serves', async () => {
    assert.equal((await fetch(`${relay.url}/healthy`)).status, 200);
    assert.equal((await fetch(`${relay.url}/ready`)).status, 200);
    const metrics = await (await fetch(`${relay.url}/metrics`)).text();
    assert.match(metrics, /relay_rejected_requests_total\{code="RELAY_BODY_MALFORMED"\} 1/);
  });
});
