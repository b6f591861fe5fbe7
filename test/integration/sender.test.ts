import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { createSender, TransportError } from '../../src/delivery/send.js';

/** A network with one path per behaviour the sender must survive. */
let server: Server;
let base: string;
let counted = 0;
let connections = 0;
before(async () => {
  server = createServer((req, res) => {
    if (req.url === '/ok') {
      res.writeHead(200, { 'content-type': 'application/json', 'retry-after': '7' });
      res.end('{"request_status":"Success"}');
    } else if (req.url === '/huge') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('x'.repeat(200 * 1024));
    } else if (req.url === '/slow-body') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('partial');
      // and never ends
    } else if (req.url === '/count') {
      counted += 1;
      res.end('counted');
    } else if (req.url === '/echo') {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => res.end(`${req.method} ${req.headers['x-key']} ${body}`));
    }
    // /hang: no answer at all
  });
  server.on('connection', () => (connections += 1));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => {
  server.closeAllConnections();
  server.close();
});

const get = (path: string) => ({ method: 'GET' as const, url: base + path, headers: {} });

test('the sender returns the status, headers and body of an answer, and sends method, headers and body', async (t) => {
  const sender = createSender();
  t.after(() => sender.destroy());
  const answer = await sender.send(get('/ok'), 2_000);
  assert.equal(answer.status, 200);
  assert.equal(answer.headers['retry-after'], '7');
  assert.equal(answer.body, '{"request_status":"Success"}');
  assert.ok(answer.durationMs >= 0);
  const echo = await sender.send({ method: 'POST', url: `${base}/echo`, headers: { 'x-key': 'k1', 'content-type': 'text/plain' }, body: 'payload' }, 2_000);
  assert.equal(echo.body, 'POST k1 payload');
});

test('an answer is read up to 64 KB and no further', async (t) => {
  const sender = createSender();
  t.after(() => sender.destroy());
  const answer = await sender.send(get('/huge'), 2_000);
  assert.equal(answer.body.length, 64 * 1024);
});

test('no answer within the timeout, before or during the body, is a retryable TransportError', async (t) => {
  const sender = createSender();
  t.after(() => sender.destroy());
  for (const path of ['/hang', '/slow-body']) {
    const started = Date.now();
    const err = await sender.send(get(path), 200).then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof TransportError, `${path}: ${String(err)}`);
    assert.equal(err.message, 'no answer within 200 ms');
    assert.equal(err.retryable, true);
    assert.ok(Date.now() - started < 2_000, `${path} was cut at the timeout`);
  }
});

test('a refused connection is retryable; a request that cannot be made is not', async (t) => {
  const sender = createSender();
  t.after(() => sender.destroy());
  const refused = await sender.send({ method: 'GET', url: 'http://127.0.0.1:9/x', headers: {} }, 1_000).then(() => undefined, (e: unknown) => e);
  assert.ok(refused instanceof TransportError);
  assert.equal(refused.retryable, true);
  assert.match(refused.message, /^network error: ECONNREFUSED/);
  for (const url of ['not a url', 'mailto:ops@shop.example', 'ftp://files.shop.example/pb']) {
    const refusedUrl = await sender.send({ method: 'GET', url, headers: {} }, 1_000).then(() => undefined, (e: unknown) => e);
    assert.ok(refusedUrl instanceof TransportError, url);
    assert.equal(refusedUrl.retryable, false, url);
    assert.match(refusedUrl.message, /^the request could not be made: not an http\(s\) URL/);
  }
  const invalid = await sender.send({ method: 'GET', url: `${base}/ok`, headers: { 'bad header': 'x' } }, 1_000).then(() => undefined, (e: unknown) => e);
  assert.ok(invalid instanceof TransportError);
  assert.equal(invalid.retryable, false);
  assert.match(invalid.message, /^the request could not be made/);
});

test('a postback whose deadline passes while it waits for a connection is never sent', async (t) => {
  const sender = createSender({ connectionsPerOrigin: 1 });
  t.after(() => sender.destroy());
  counted = 0;
  connections = 0;
  const hanging = sender.send(get('/hang'), 400).catch((e: unknown) => e);
  const queued = await sender.send(get('/count'), 100).then(() => undefined, (e: unknown) => e);
  assert.ok(queued instanceof TransportError);
  assert.equal(queued.message, 'no answer within 100 ms');
  await hanging;
  // The one connection is free again: the queued postback would go out now if it were still live.
  await sender.send(get('/ok'), 2_000);
  assert.equal(counted, 0, 'reported as failed, so it must not reach the network late (its retry would be a duplicate)');
  assert.equal(connections, 2, 'the hanging request\'s connection, then one for the rest: dropping the expired one closed none');
});
