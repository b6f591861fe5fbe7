import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { createLogger, writeLogLine } from '../../src/log.js';

function capture(level: 'info' | 'warn') {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  return { lines, logger: createLogger(level, sink) };
}

test('a line with pre-serialized JSON reads exactly like the logger\'s own line', async () => {
  const { lines, logger } = capture('info');
  const job = { id: 'j-1', event: { event_name: 'purchase', params: { note: 'quote " and \\ backslash' } } };
  logger.info({ job_id: 'j-1', transaction_id: 'T-1', job }, 'conversion.accepted');
  writeLogLine(logger, 'info', 'conversion.accepted', { job_id: 'j-1', transaction_id: 'T-1', dedup_key: undefined }, { job: JSON.stringify(job) });
  await new Promise((resolve) => setImmediate(resolve));
  const [viaPino, direct] = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
  assert.ok(viaPino && direct);
  assert.match(String(direct.time), /^\d{4}-\d\d-\d\dT/);
  assert.deepEqual({ ...direct, time: undefined }, { ...viaPino, time: undefined });
});

test('a line with pre-serialized JSON respects the log level', async () => {
  const { lines, logger } = capture('warn');
  writeLogLine(logger, 'info', 'conversion.accepted', { job_id: 'j-1' }, { job: '{}' });
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(lines, []);
});

test('an error line written directly reads like the logger\'s own error line', async () => {
  const { lines, logger } = capture('info');
  const entry = { destination: 'cake', attempt: 3, status: 'dead', reason: 'gave up: "quoted"', duration_ms: 12 };
  logger.error(entry, 'postback.dead');
  writeLogLine(logger, 'error', 'postback.dead', entry);
  await new Promise((resolve) => setImmediate(resolve));
  const [viaPino, direct] = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
  assert.ok(viaPino && direct);
  assert.deepEqual({ ...direct, time: undefined }, { ...viaPino, time: undefined });
  assert.equal(direct.severity, 'ERROR');
});

test('field names and messages that JSON must escape are escaped in every line, not only the first', async () => {
  const { lines, logger } = capture('info');
  const before = Date.now();
  for (let i = 0; i < 2; i++) writeLogLine(logger, 'info', 'odd "message"', { 'we"ird\\name': i });
  await new Promise((resolve) => setImmediate(resolve));
  const parsed = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
  assert.deepEqual(parsed.map((line) => [line.message, line['we"ird\\name']]), [['odd "message"', 0], ['odd "message"', 1]]);
  for (const line of parsed) {
    const at = Date.parse(String(line.time));
    assert.ok(at >= before - 1 && at <= Date.now(), `the line's time is now (${String(line.time)})`);
  }
});
