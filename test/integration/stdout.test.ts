import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';

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
