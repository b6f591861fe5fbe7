import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseRetryAfter, retryDelayMs } from '../../src/delivery/backoff.js';

const schedule = [5_000, 30_000, 300_000];

test('each attempt takes its delay from the schedule, within ±20 % jitter', () => {
  assert.equal(retryDelayMs(1, schedule, undefined, () => 0), 4_000);
  assert.equal(retryDelayMs(1, schedule, undefined, () => 1), 6_000);
  assert.equal(retryDelayMs(2, schedule, undefined, () => 0.5), 30_000);
  assert.equal(retryDelayMs(3, schedule, undefined, () => 0.5), 300_000);
});

test('after the last delay the schedule is used up', () => {
  assert.equal(retryDelayMs(4, schedule, undefined, () => 0.5), undefined);
});

test('Retry-After is a floor: never sooner than the network asked, capped at 24 h', () => {
  assert.equal(retryDelayMs(1, schedule, 120_000, () => 0.5), 120_000);
  assert.equal(retryDelayMs(2, schedule, 1_000, () => 0.5), 30_000);
  assert.equal(retryDelayMs(1, schedule, 10 * 86_400_000, () => 0.5), 86_400_000);
});

test('Retry-After parses delay-seconds and HTTP dates', () => {
  const now = Date.parse('2026-11-24T12:00:00Z');
  assert.equal(parseRetryAfter('120', now), 120_000);
  assert.equal(parseRetryAfter('Tue, 24 Nov 2026 12:01:00 GMT', now), 60_000);
  assert.equal(parseRetryAfter('Tue, 24 Nov 2026 11:00:00 GMT', now), 0);
  assert.equal(parseRetryAfter('soon', now), undefined);
  assert.equal(parseRetryAfter(undefined, now), undefined);
});
