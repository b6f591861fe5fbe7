import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { createLogger, createStdout } from '../../src/log.js';

const LOG_MODULE = join(import.meta.dirname, '..', '..', 'src', 'log.ts');

/** A child process that logs through the relay's batched stdout, as the server does. */
const SCRIPT = `
  const { createLogger, createStdout } = await import(${JSON.stringify(LOG_MODULE)});
  const stdout = createStdout();
  process.on('exit', () => stdout.flushSync());
  const logger = createLogger('info', stdout);
  logger.info('alone');
  process.stdin.once('data', () => {
    for (let i = 0; i < 500; i++) logger.info({ i }, 'burst');
    logger.info('last');
    process.exit(0);
  });
`;

test('batched stdout: a lone line still goes out promptly, and exit writes whatever is left', async () => {
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', SCRIPT], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines: Array<{ message: string }> = [];
  let partial = '';
  child.stdout.on('data', (chunk: Buffer) => {
    const text = partial + chunk.toString('utf8');
    const parts = text.split('\n');
    partial = parts.pop()!;
    for (const part of parts) lines.push(JSON.parse(part) as { message: string });
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  for (let i = 0; lines.length === 0; i++) {
    assert.ok(i < 100, 'a lone line was held back for more than 5 s');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.equal(lines[0]!.message, 'alone');
  child.stdin.end('go');
  await exited;
  assert.equal(lines.length, 502);
  assert.equal(lines.at(-1)!.message, 'last');
});

/** A child that writes far more than a pipe holds, through the relay's stdout, then exits. */
const FLOOD = `
  const { createLogger, createStdout } = await import(${JSON.stringify(LOG_MODULE)});
  const stdout = createStdout();
  process.on('exit', () => stdout.flushSync());
  const logger = createLogger('info', stdout);
  for (let i = 0; i < 20000; i++) logger.info({ i, pad: 'x'.repeat(200) }, 'flood');
  setTimeout(() => process.exit(0), 3000);
`;

test('batched stdout: a reader that falls behind loses no line and gets them in order', async () => {
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', FLOOD], { stdio: ['ignore', 'pipe', 'inherit'] });
  // Not read for a second: about 5 MB wait behind a pipe that holds a few dozen KB.
  child.stdout.pause();
  const closed = new Promise((resolve) => child.stdout.once('close', resolve));
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const chunks: Buffer[] = [];
  child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
  child.stdout.resume();
  await closed;
  const lines = Buffer.concat(chunks).toString('utf8').trimEnd().split('\n').map((line) => JSON.parse(line) as { i: number });
  assert.equal(lines.length, 20000);
  assert.ok(lines.every((line, n) => line.i === n), 'every line once, in order');
});

/** A FIFO this process writes to without blocking, whose reader (cat, into a file) starts later. */
function nonBlockingPipe() {
  const dir = mkdtempSync(join(tmpdir(), 'relay-stdout-'));
  const fifo = join(dir, 'pipe');
  const copy = join(dir, 'copy');
  assert.equal(spawnSync('mkfifo', [fifo]).status, 0);
  // A reader first (a FIFO refuses a non-blocking writer without one), which never reads itself.
  const idleReader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
  const fd = openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK);
  return {
    fd,
    /** Starts the reader, lets `flush` run (it holds this event loop), and returns every line read. */
    async drain(flush: () => void): Promise<Array<Record<string, unknown>>> {
      // Into a file: this process's event loop is held by the flush, so it could not read a pipe.
      const copyFd = openSync(copy, 'w');
      const reader = spawn('cat', [fifo], { stdio: ['ignore', copyFd, 'inherit'] });
      closeSync(copyFd);
      const done = new Promise((resolve) => reader.once('exit', resolve));
      flush();
      closeSync(fd);
      closeSync(idleReader);
      await done;
      return readFileSync(copy, 'utf8').trimEnd().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    },
  };
}

test('batched stdout on a non-blocking pipe: what a full pipe refuses waits, in order, and exit waits for it', async () => {
  const pipe = nonBlockingPipe();
  const stdout = createStdout(pipe.fd);
  const logger = createLogger('info', stdout);
  // About 5 MB against a pipe that holds 64 KB: the writes soon meet EAGAIN.
  for (let i = 0; i < 20000; i++) logger.info({ i, pad: 'x'.repeat(200) }, 'flood');
  // What the entry point does at exit, with time enough for the reader to take everything.
  const lines = await pipe.drain(() => stdout.flushSync(10_000));
  assert.equal(lines.length, 20000);
  assert.ok(lines.every((line, n) => line.i === n), 'every line once, in order');
});

test('batched stdout: past its limit, a stalled reader costs later lines, counted in a line of their own', async () => {
  const pipe = nonBlockingPipe();
  const stdout = createStdout(pipe.fd, 256 * 1024);
  const logger = createLogger('info', stdout);
  for (let i = 0; i < 20000; i++) logger.info({ i, pad: 'x'.repeat(200) }, 'flood');
  const lines = await pipe.drain(() => stdout.flushSync(10_000));
  const notice = lines.at(-1)!;
  assert.equal(notice.message, 'log.lines_dropped');
  const kept = lines.slice(0, -1);
  assert.ok(kept.length > 500 && kept.length < 2000, `about 64 KB in the pipe and 256 KB waiting were kept (${kept.length})`);
  assert.ok(kept.every((line, n) => line.i === n), 'the earliest lines, in order');
  assert.equal(kept.length + (notice.dropped_lines as number), 20000);
});
