import assert from 'node:assert/strict';
import { request } from 'node:http';
import { test } from 'node:test';
import { startRelay, type StartedRelay } from '../helpers/relay.js';

/**
 * gtag sends a hit three ways: everything in the query string with no body, a body of event lines
 * with a Content-Length, and (through some proxies and fetch polyfills) a chunked body.
 */
async function post(url: string, path: string, body: string | undefined, framing: 'length' | 'chunked' | 'none'): Promise<number> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = framing === 'length' ? { 'content-length': String(Buffer.byteLength(body ?? '')) } : {};
    const req = request(`${url}${path}`, { method: 'POST', headers }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    if (framing === 'chunked') {
      // Two writes before end(): node sends Transfer-Encoding: chunked, no Content-Length.
      const [first, second] = [body!.slice(0, 5), body!.slice(5)];
      req.write(first);
      setTimeout(() => req.end(second), 20);
    } else {
      req.end(body);
    }
  });
}

async function eventNames(relay: StartedRelay, clientId: string): Promise<string[]> {
  const res = await relay.adminGet('/admin/events?limit=50');
  const { events } = (await res.json()) as { events: Array<{ event_name: string; client_id?: string }> };
  return events.filter((e) => e.client_id === clientId).map((e) => e.event_name).sort();
}

test('GA4 hits are read whether the events come in the query, a sized body or a chunked body', async (t) => {
  const relay = await startRelay(t, { config: { destinations: [] } });
  const lines = 'en=view_item&ep.sku=A1\nen=add_to_cart&ep.sku=A1';

  assert.equal(await post(relay.url, '/g/collect?v=2&cid=1.1&en=page_view', undefined, 'none'), 204);
  assert.deepEqual(await eventNames(relay, '1.1'), ['page_view']);

  assert.equal(await post(relay.url, '/g/collect?v=2&cid=2.2', lines, 'length'), 204);
  assert.deepEqual(await eventNames(relay, '2.2'), ['add_to_cart', 'view_item']);

  assert.equal(await post(relay.url, '/g/collect?v=2&cid=3.3', lines, 'chunked'), 204);
  assert.deepEqual(await eventNames(relay, '3.3'), ['add_to_cart', 'view_item']);
});
