import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DestinationGate } from '../../src/delivery/gate.js';

function gateAt(clock: { now: number }) {
  return new DestinationGate({ maxConcurrency: 4, failureThreshold: 2, coolDownMs: 1_000, now: () => clock.now });
}

/** Opens the circuit with two failures, then lets the cool-down pass so the next caller probes. */
function openThenProbe(gate: DestinationGate, clock: { now: number }): void {
  gate.record(false);
  gate.record(false);
  assert.equal(gate.state, 'open');
  clock.now += 1_000;
  assert.equal(gate.blockedUntil(), undefined, 'the first caller after the cool-down is the probe');
  assert.equal(gate.blockedUntil(), clock.now + 1_000, 'the others wait while it probes');
}

test('a failed probe doubles the cool-down each time', () => {
  const clock = { now: 0 };
  const gate = gateAt(clock);
  openThenProbe(gate, clock);
  gate.record(false);
  assert.equal(gate.blockedUntil(), clock.now + 2_000);
  clock.now += 2_000;
  assert.equal(gate.blockedUntil(), undefined);
  gate.record(false);
  assert.equal(gate.blockedUntil(), clock.now + 4_000);
});

test('a probe answered with a Retry-After reopens for that wait, not a doubled cool-down', () => {
  const clock = { now: 0 };
  const gate = gateAt(clock);
  openThenProbe(gate, clock);
  for (let i = 0; i < 5; i++) {
    gate.record(false, 2_000);
    assert.equal(gate.blockedUntil(), clock.now + 2_000, `probe ${i + 1}: the network's 2 s, however often it asks`);
    clock.now += 2_000;
    assert.equal(gate.blockedUntil(), undefined);
  }
  gate.record(false, 100);
  assert.equal(gate.blockedUntil(), clock.now + 1_000, 'never sooner than the configured cool-down');
  clock.now += 1_000;
  assert.equal(gate.blockedUntil(), undefined);
  gate.record(true);
  assert.equal(gate.state, 'closed', 'a verdict closes it');
});
