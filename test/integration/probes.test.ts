import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cakeDestination, startRelay } from '../helpers/relay.js';

test('the probes answer on node:http, and the admin side loads on its first request', async (t) => {
  const { url, adminGet } = await startRelay(t, { config: { destinations: [cakeDestination('http://127.0.0.1:9')] } });

  const healthy = await fetch(`${url}/healthy`);
  assert.equal(healthy.status, 200);
  assert.deepEqual(await healthy.json(), { status: 'ok' });
  assert.equal(healthy.headers.get('cache-control'), 'no-store');

  const ready = await fetch(`${url}/ready?probe=startup`);
  assert.equal(ready.status, 200);
  assert.deepEqual(await ready.json(), { status: 'ready', store: 'memory' });

  const head = await fetch(`${url}/ready`, { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal(await head.text(), '');

  const [metrics, postbacks] = await Promise.all([fetch(`${url}/metrics`), adminGet('/admin/postbacks')]);
  assert.equal(metrics.status, 200);
  assert.match(await metrics.text(), /relay_/);
  assert.equal(postbacks.status, 200);
  // helmet still guards what express serves.
  assert.equal(postbacks.headers.get('x-content-type-options'), 'nosniff');
});
