import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formattedClock, isoClock } from '../../src/clock.js';

test('a formatted clock formats each millisecond once, and again when the time moves', () => {
  let now = 1_700_000_000_000;
  const formatted: number[] = [];
  const clock = formattedClock((ms) => (formatted.push(ms), `t${ms}`), () => now);
  assert.equal(clock(), 't1700000000000');
  assert.equal(clock(), 't1700000000000');
  now += 1;
  assert.equal(clock(), 't1700000000001');
  now -= 5;
  assert.equal(clock(), 't1699999999996', 'a clock set back is followed too');
  assert.deepEqual(formatted, [1_700_000_000_000, 1_700_000_000_001, 1_699_999_999_996]);
});

test('an ISO clock reads as toISOString does', () => {
  let now = Date.UTC(2026, 10, 25, 17, 30, 0, 123);
  const clock = isoClock(() => now);
  assert.equal(clock(), '2026-11-25T17:30:00.123Z');
  now += 1_000;
  assert.equal(clock(), '2026-11-25T17:30:01.123Z');
});
