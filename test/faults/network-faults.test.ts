import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { ADMIN_TOKEN } from '../helpers/relay.js';
import {
  cakeOn, faultFixtures, judge, percentile, report, runLoad, startRelayProcess, waitForDrain, writeConfig,
} from './harness.js';

/** Faults of the network: errors, rate limits, hangs, final rejections, redirects. */
const fixtures = faultFixtures();

const admin = (url: string, path: string, body?: unknown) =>
  fetch(url + path, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  }).then((r) => r.json() as Promise<Record<string, unknown>>);

test('5. the network answers 500 for 3 s, then 200: all delivered, attempts on schedule', async (t) => {
  const delays = [0.5, 1, 2, 2, 2, 2];
  const config = writeConfig({
    destinations: [cakeOn(fixtures.network, { retry: { delaysSeconds: delays, maxAgeHours: 1 }, circuitBreaker: { failureThreshold: 100_000 } })],
  });
  const relay = await startRelayProcess(fixtures.redis.url, config);
  t.after(() => relay.signal('SIGKILL'));
  const recoversAt = Date.now() + 3_000;
  fixtures.network.fault = () => (Date.now() < recoversAt ? { status: 500, body: 'Internal Server Error' } : undefined);
  const ledger = await runLoad({ targets: () => [relay.url], rate: 50, durationMs: 4_000, prefix: 'err500' });
  const drainMs = await waitForDrain(ledger, fixtures.network, 30_000);
  const verdict = judge(ledger, fixtures.network);
  report({ case: 'network answers 500 for 3 s, then 200', load: '50 conv/s × 4 s', lost: verdict.lost.length, duplicated: verdict.duplicated.length, drainMs, note: `${verdict.repeatHits} retried attempts` });
  assert.deepEqual(verdict.lost, []);
  assert.deepEqual(verdict.duplicated, []);
  assert.ok(verdict.repeatHits > 0);
  // Each wait between attempts follows the schedule: ±20 % jitter, plus the worker's 250 ms poll.
  for (const [order, times] of fixtures.network.attemptTimes) {
    for (let i = 1; i < times.length; i++) {
      const gap = times[i]! - times[i - 1]!;
      const planned = delays[i - 1]! * 1000;
      assert.ok(gap >= planned * 0.8 - 20, `${order}: attempt ${i + 1} came ${gap} ms after the last, before the ${planned} ms schedule`);
      assert.ok(gap <= planned * 1.2 + 600, `${order}: attempt ${i + 1} came ${gap} ms after the last, later than the ${planned} ms schedule`);
    }
  }
  assert.deepEqual((await admin(relay.url, '/admin/dead-letters')).dead_letters, []);
});

test('6. the network answers 429 with Retry-After: 2: no attempt before it', async (t) => {
  const config = writeConfig({
    destinations: [cakeOn(fixtures.network, { retry: { delaysSeconds: [0.2, 0.2, 0.2], maxAgeHours: 1 }, circuitBreaker: { coolDownSeconds: 1 } })],
  });
  const relay = await startRelayProcess(fixtures.redis.url, config);
  t.after(() => relay.signal('SIGKILL'));
  const limited = new Set<string>();
  fixtures.network.fault = (req) => {
    const order = req.url.searchParams.get('unique_id')!;
    if (limited.has(order)) return undefined;
    limited.add(order);
    return { status: 429, headers: { 'retry-after': '2' }, body: 'Too Many Requests' };
  };
  const ledger = await runLoad({ targets: () => [relay.url], rate: 20, durationMs: 2_000, prefix: 'ratelimited' });
  const drainMs = await waitForDrain(ledger, fixtures.network, 30_000);
  const verdict = judge(ledger, fixtures.network);
  report({ case: 'network answers 429, Retry-After: 2', load: '20 conv/s × 2 s', lost: verdict.lost.length, duplicated: verdict.duplicated.length, drainMs, note: 'every retry ≥ 2 s after its 429; the 429s opened the circuit, whose cool-down set the pace' });
  assert.deepEqual(verdict.lost, []);
  for (const [order, times] of fixtures.network.attemptTimes) {
    assert.equal(times.length, 2, `${order}: one 429, then one success`);
    assert.ok(times[1]! - times[0]! >= 2_000, `${order}: retried ${times[1]! - times[0]!} ms after a Retry-After of 2 s`);
  }
});

test('7. the network hangs for 4 s: attempts time out, intake latency unaffected, all delivered after', async (t) => {
  const config = writeConfig({
    destinations: [cakeOn(fixtures.network, { timeoutMs: 500, circuitBreaker: { failureThreshold: 10, coolDownSeconds: 1 } })],
  });
  const relay = await startRelayProcess(fixtures.redis.url, config);
  t.after(() => relay.signal('SIGKILL'));
  const recoversAt = Date.now() + 4_000;
  fixtures.network.fault = () => (Date.now() < recoversAt ? { status: 200, hang: true } : undefined);
  const ledger = await runLoad({ targets: () => [relay.url], rate: 100, durationMs: 5_000, prefix: 'hang' });
  const drainMs = await waitForDrain(ledger, fixtures.network, 30_000);
  const verdict = judge(ledger, fixtures.network);
  const p99 = percentile(ledger.latenciesMs, 99);
  report({ case: 'network hangs 4 s (500 ms timeout)', load: '100 conv/s × 5 s', lost: verdict.lost.length, duplicated: verdict.duplicated.length, drainMs, note: `intake p99 ${p99.toFixed(1)} ms` });
  assert.deepEqual(verdict.lost, []);
  assert.deepEqual(verdict.duplicated, []);
  assert.equal(ledger.non2xx, 0, 'no intake request failed while the network hung');
  // Loose on purpose (2 cores, shared with the load generator): the point is that intake does not wait on postbacks.
  assert.ok(p99 < 250, `intake p99 ${p99} ms while the network hung`);
  assert.ok(relay.logs.some((l) => l.includes('no answer within 500 ms')), 'attempts were cut at the timeout');
});

test('8. a final rejection: dead letter after one attempt; after the fix, replay delivers each once; again, nothing', async (t) => {
  const relay = await startRelayProcess(fixtures.redis.url, writeConfig({ destinations: [cakeOn(fixtures.network)] }));
  t.after(() => relay.signal('SIGKILL'));
  fixtures.network.fault = () => ({ status: 400, body: 'Bad Request: offer_id is not valid' });
  const started = Date.now();
  const ledger = await runLoad({ targets: () => [relay.url], rate: 50, durationMs: 2_000, prefix: 'rejected' });
  for (let i = 0; ((await admin(relay.url, '/admin/dead-letters?limit=1000')).dead_letters as unknown[]).length < ledger.orders; i++) {
    assert.ok(i < 200, 'every rejected conversion reaches the dead letters');
    await sleep(50);
  }
  for (const [order, hits] of fixtures.network.hits) assert.equal(hits, 1, `${order} was attempted ${hits} times: a final rejection is not retried`);

  fixtures.network.fault = () => undefined;
  const first = (await admin(relay.url, '/admin/replay', { from: new Date(started).toISOString(), to: new Date().toISOString() })) as { replayed: string[] };
  assert.equal(first.replayed.length, ledger.orders);
  const drainMs = await waitForDrain(ledger, fixtures.network, 30_000);
  const second = (await admin(relay.url, '/admin/replay', { from: new Date(started).toISOString(), to: new Date().toISOString() })) as { replayed: string[] };
  assert.deepEqual(second.replayed, [], 'a second replay does nothing');
  const byId = (await admin(relay.url, '/admin/replay', { ids: first.replayed.slice(0, 5) })) as { replayed: string[]; skipped: unknown[] };
  assert.deepEqual(byId.replayed, []);
  assert.equal(byId.skipped.length, 5);
  await sleep(500);
  const verdict = judge(ledger, fixtures.network);
  report({ case: 'final rejection (400), then replay', load: `${ledger.orders} conversions`, lost: verdict.lost.length, duplicated: verdict.duplicated.length, drainMs, note: 'one attempt each, then dead letters; replay delivered each once; a second replay: 0' });
  assert.deepEqual(verdict.lost, []);
  assert.deepEqual(verdict.duplicated, []);
  for (const [order, hits] of fixtures.network.hits) assert.equal(hits, 2, `${order}: one rejected attempt, one replayed delivery`);
  assert.ok(relay.logs.some((l) => l.includes('"message":"replay.done"')), 'the replay is in the log');
});

test('9. the network redirects to an internal address: not followed', async (t) => {
  let internalHits = 0;
  const internal = createServer((_req, res) => {
    internalHits += 1;
    res.end('metadata');
  });
  await new Promise<void>((resolve) => internal.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => internal.close(() => resolve())));
  const target = `http://127.0.0.1:${(internal.address() as { port: number }).port}/computeMetadata/v1/`;
  fixtures.network.fault = () => ({ status: 302, headers: { location: target }, body: '' });
  const relay = await startRelayProcess(fixtures.redis.url, writeConfig({ destinations: [cakeOn(fixtures.network)] }));
  t.after(() => relay.signal('SIGKILL'));
  const ledger = await runLoad({ targets: () => [relay.url], rate: 10, durationMs: 1_000, prefix: 'redirect' });
  for (let i = 0; ((await admin(relay.url, '/admin/dead-letters')).dead_letters as unknown[]).length < ledger.orders; i++) {
    assert.ok(i < 200, 'redirected postbacks end in the dead letters');
    await sleep(50);
  }
  const letters = (await admin(relay.url, '/admin/dead-letters')).dead_letters as Array<{ reason: string }>;
  assert.match(letters[0]!.reason, /redirect/i);
  report({ case: 'network redirects to an internal address', load: `${ledger.orders} conversions`, lost: 0, duplicated: 0, drainMs: 0, note: `${internalHits} requests reached the internal address` });
  assert.equal(internalHits, 0);
});
