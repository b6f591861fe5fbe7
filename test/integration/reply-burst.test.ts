import assert from 'node:assert/strict';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { createReplyBurst } from '../../src/http/burst.js';

/** A server that answers through a burst, as the collect handler does; `fail` makes one reply throw. */
async function burstServer(fail: (path: string) => boolean) {
  const answer = createReplyBurst();
  const written: string[] = [];
  const server = createServer((req, res) => {
    const path = req.url ?? '/';
    answer((r: ServerResponse) => {
      if (fail(path)) throw new Error('reply failed');
      written.push(path);
      r.writeHead(204).end();
    }, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, written, close: () => new Promise((resolve) => server.close(resolve)) };
}

test('answers held for the end of the loop turn all go out, each to its own request', async () => {
  const server = await burstServer(() => false);
  try {
    const paths = Array.from({ length: 40 }, (_, i) => `/hit/${i}`);
    const statuses = await Promise.all(paths.map(async (path) => (await fetch(server.url + path)).status));
    assert.deepEqual(statuses, paths.map(() => 204));
    assert.deepEqual([...server.written].sort(), [...paths].sort());
  } finally {
    await server.close();
  }
});

test('a reply that throws loses only its own answer: the connection is closed, the others are answered', async () => {
  const server = await burstServer((path) => path === '/broken');
  try {
    const results = await Promise.allSettled(['/a', '/broken', '/b'].map((path) => fetch(server.url + path)));
    assert.equal(results[0]!.status, 'fulfilled');
    assert.equal(results[1]!.status, 'rejected');
    assert.equal(results[2]!.status, 'fulfilled');
    assert.deepEqual([...server.written].sort(), ['/a', '/b']);
  } finally {
    await server.close();
  }
});
