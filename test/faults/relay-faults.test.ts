import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  accountFrom, cakeOn, faultFixtures, judge, report, runLoad, startRelayProcess, waitForDrain, writeConfig, type RelayProcess,
} from './harness.js';

/** Faults of the relay itself: crashes mid-delivery, shutdowns under load, racing instances. */
const fixtures = faultFixtures();

/** A dead worker's jobs are taken over after 2 s here (production default: twice the longest timeout + 5 s). */
const fastReclaim = (extra: Record<string, unknown> = {}) =>
  writeConfig({ delivery: { reclaimIdleSeconds: 2, pollMs: 50 }, destinations: [cakeOn(fixtures.network, extra)] });

test('4. the relay SIGKILLed mid-delivery, three times, restarted: everything delivered, repeats deduplicated', async (t) => {
  const config = fastReclaim();
  fixtures.network.fault = () => undefined;
  const slow = fixtures.network.script;
  fixtures.network.script = (req, i) => ({ ...slow(req, i), delayMs: 150 });
  let current: RelayProcess = await startRelayProcess(fixtures.redis.url, config);
  const all = [current];
  t.after(() => all.forEach((p) => p.signal('SIGKILL')));
  const load = runLoad({ targets: () => [current.url], rate: 100, durationMs: 8_000, prefix: 'crash' });
  for (let kill = 0; kill < 3; kill++) {
    await sleep(2_000);
    current.signal('SIGKILL');
    await current.exited;
    current = await startRelayProcess(fixtures.redis.url, config);
    all.push(current);
  }
  const ledger = await load;
  const drainMs = await waitForDrain(ledger, fixtures.network, 60_000);
  const verdict = judge(ledger, fixtures.network);
  report({ case: 'relay SIGKILLed mid-delivery ×3, restarted', load: '100 conv/s × 8 s', lost: verdict.lost.length, duplicated: verdict.duplicated.length, drainMs, note: `${verdict.repeatHits} repeat hits, deduplicated by the network` });
  assert.equal(verdict.acked, ledger.orders);
  assert.deepEqual(verdict.lost, []);
  assert.deepEqual(verdict.duplicated, []);
  // Only a postback in flight at a kill can be repeated, and each repeat carries its own order ID.
  assert.ok(verdict.repeatHits <= 3 * 64, `${verdict.repeatHits} repeats for 3 kills`);
});

test('10. SIGTERM under load with a second instance running: it drains in time and the second finishes', async (t) => {
  const config = fastReclaim();
  const slow = fixtures.network.script;
  fixtures.network.script = (req, i) => ({ ...slow(req, i), delayMs: 100 });
  const a = await startRelayProcess(fixtures.redis.url, config);
  const b = await startRelayProcess(fixtures.redis.url, config);
  t.after(() => [a, b].forEach((p) => p.signal('SIGKILL')));
  let targets = [a.url, b.url];
  const load = runLoad({ targets: () => targets, rate: 200, durationMs: 6_000, prefix: 'sigterm' });
  await sleep(2_500);
  const termAt = Date.now();
  a.signal('SIGTERM');
  const exitedAt = await a.exited;
  targets = [b.url];
  const ledger = await load;
  const drainMs = await waitForDrain(ledger, fixtures.network, 60_000);
  const verdict = judge(ledger, fixtures.network);
  report({ case: 'SIGTERM one of two instances under load', load: '200 conv/s × 6 s', lost: verdict.lost.length, duplicated: verdict.duplicated.length, drainMs, note: `exited ${((exitedAt - termAt) / 1000).toFixed(1)} s after SIGTERM` });
  assert.ok(exitedAt - termAt < 9_000, `exited ${exitedAt - termAt} ms after SIGTERM: Cloud Run kills at 10 s`);
  assert.ok(a.logs.some((l) => l.includes('relay.shutting_down')));
  assert.equal(verdict.acked, ledger.orders);
  assert.deepEqual(verdict.lost, []);
  assert.deepEqual(verdict.duplicated, []);
});

test('11. the same order fired in parallel by five clients at two instances: one postback', async (t) => {
  const config = fastReclaim();
  const a = await startRelayProcess(fixtures.redis.url, config);
  const b = await startRelayProcess(fixtures.redis.url, config);
  t.after(() => [a, b].forEach((p) => p.signal('SIGKILL')));
  const ledger = await runLoad({ targets: () => [a.url, b.url], rate: 100, durationMs: 3_000, prefix: 'race', copies: 5 });
  const drainMs = await waitForDrain(ledger, fixtures.network, 60_000);
  await sleep(500);
  const verdict = judge(ledger, fixtures.network);
  const account = accountFrom([a, b]);
  report({
    case: 'same order ×5 in parallel at two instances', load: `${ledger.orders} orders × 5`, lost: verdict.lost.length,
    duplicated: verdict.duplicated.length, drainMs, note: `${verdict.repeatHits} repeat hits, ${account.unanswered} attempts without an answer`,
  });
  assert.equal(verdict.acked, ledger.orders);
  assert.deepEqual(verdict.lost, []);
  assert.deepEqual(account.acceptedTwice, [], 'one job per order, whichever instance and copy came first');
  assert.deepEqual(account.answeredTwice, [], 'no job is sent again once the network answered it');
  // A postback that got no answer in time is retried, and the network may have had the first: on
  // a loaded machine that is the only repeat there may be.
  assert.ok(verdict.repeatHits <= account.unanswered, `${verdict.repeatHits} repeat hits, ${account.unanswered} unanswered attempts`);
});

test('SIGTERM while Redis is down: the relay still exits before Cloud Run\'s 10 s kill', async (t) => {
  const relay = await startRelayProcess(fixtures.redis.url, fastReclaim());
  t.after(() => relay.signal('SIGKILL'));
  await fixtures.redis.kill();
  t.after(() => fixtures.redis.restart());
  await sleep(300);
  const termAt = Date.now();
  relay.signal('SIGTERM');
  const exitedAt = await relay.exited;
  report({ case: 'SIGTERM with Redis down', load: 'idle', lost: 0, duplicated: 0, drainMs: 0, note: `exited ${((exitedAt - termAt) / 1000).toFixed(1)} s after SIGTERM` });
  assert.ok(exitedAt - termAt < 10_000, `exited ${exitedAt - termAt} ms after SIGTERM`);
});
