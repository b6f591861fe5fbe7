import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { NODE_FLAGS } from '../../src/node-flags.js';
import { freePort } from '../helpers/redis-server.js';

/*
 * The bundled server as the container starts it (`node --max-semi-space-size=32 --min-semi-space-size=16 dist/server.cjs`, built
 * by `npm run build`):
 * with the code cache the build made, with a cache V8 refuses, and with mapped stack traces.
 */
const DIST = join(import.meta.dirname, '..', '..', 'dist');
const SERVER = join(DIST, 'server.cjs');
const BUNDLE = join(DIST, 'relay.cjs');
const EXAMPLE_CONFIG = join(import.meta.dirname, '..', '..', 'deploy', 'relay.example.yaml');

/** Starts the server with `nodeArgs`, waits for /healthy, stops it; returns what it wrote to stderr. */
async function startOnce(nodeArgs: string[]): Promise<{ stderr: string; health: unknown }> {
  const port = await freePort();
  const child = spawn(process.execPath, [...nodeArgs, SERVER], {
    env: { PATH: process.env.PATH, PORT: String(port), RELAY_CONFIG: EXAMPLE_CONFIG, LOG_LEVEL: 'error' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  try {
    for (let i = 0; ; i++) {
      if (child.exitCode !== null) throw new Error(`server exited at startup: ${stderr}`);
      try {
        const res = await fetch(`http://127.0.0.1:${port}/healthy`);
        if (res.status === 200) return { stderr, health: await res.json() };
      } catch {
        // not listening yet
      }
      if (i > 400) throw new Error(`server never answered /healthy: ${stderr}`);
      await sleep(10);
    }
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
}

test('the build leaves the bundle, its code cache, the entry that loads them and the bundles loaded later', () => {
  for (const file of ['server.cjs', 'relay.cjs', 'relay.cjs.codecache', 'relay.cjs.map', 'later/undici.cjs', 'later/express.cjs', 'later/helmet.cjs']) {
    assert.ok(existsSync(join(DIST, file)), `dist/${file} is missing: run npm run build`);
  }
});

test('the server starts on the code cache the build made, without a word about it', async () => {
  const { stderr, health } = await startOnce([...NODE_FLAGS]);
  assert.deepEqual(health, { status: 'ok' });
  assert.doesNotMatch(stderr, /code cache/);
});

test('the server starts on its code cache without the flags too: it is read under V8\'s defaults', async () => {
  const { stderr, health } = await startOnce([]);
  assert.deepEqual(health, { status: 'ok' });
  assert.doesNotMatch(stderr, /code cache/);
});

test('after V8\'s default flags are restored, the young generation keeps the sizes the flags gave it', async () => {
  // Objects kept alive in a ring: most survive a scavenge, so the young generation grows to its most.
  const program = `
    import { getHeapSpaceStatistics } from 'node:v8';
    import { restoreDefaultV8Flags } from ${JSON.stringify(pathToFileURL(join(DIST, 'src', 'node-flags.js')).href)};
    const newSpaceMiB = () => getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size / 2 ** 20;
    restoreDefaultV8Flags();
    const first = newSpaceMiB();
    const ring = new Array(200000);
    let most = 0;
    for (let i = 0; i < 4000000; i++) {
      ring[i % ring.length] = { i };
      if ((i & 0xffff) === 0) most = Math.max(most, newSpaceMiB());
    }
    console.log(JSON.stringify({ first, most }));`;
  const run = async (flags: readonly string[]) => {
    const { stdout } = await promisify(execFile)(process.execPath, [...flags, '--input-type=module', '-e', program]);
    return JSON.parse(stdout) as { first: number; most: number };
  };
  const [withFlags, defaults] = await Promise.all([run(NODE_FLAGS), run([])]);
  assert.ok(withFlags.first > defaults.first, `starts at ${withFlags.first} MiB under the flags, ${defaults.first} without`);
  assert.ok(withFlags.most > defaults.most, `grows to ${withFlags.most} MiB under the flags, ${defaults.most} without`);
});

test('the container and npm start run the server under the flags its code cache was made under', () => {
  const root = join(import.meta.dirname, '..', '..');
  const cmd = /^CMD (\[.*\])$/m.exec(readFileSync(join(root, 'deploy', 'Dockerfile'), 'utf8'))?.[1];
  assert.deepEqual(JSON.parse(cmd ?? 'null'), ['node', ...NODE_FLAGS, 'dist/server.cjs']);
  const scripts = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
  assert.equal(scripts.start, ['node', ...NODE_FLAGS, 'dist/server.cjs'].join(' '));
});

test('a cache made under other V8 flags is refused with one warning, and the server still starts', async () => {
  // A flag of the operator's differs from the build's, as another Node.js build differs by its version.
  const { stderr, health } = await startOnce(['--max-old-space-size=1024']);
  assert.deepEqual(health, { status: 'ok' });
  const warnings = stderr.split('\n').filter((line) => line.includes('code cache'));
  assert.equal(warnings.length, 1);
  const warning = JSON.parse(warnings[0]!) as { severity: string; message: string };
  assert.equal(warning.severity, 'WARNING');
  assert.match(warning.message, /compiling from source/);
});

test('with --enable-source-maps the server loads the bundle through node and starts', async () => {
  const { stderr, health } = await startOnce(['--enable-source-maps']);
  assert.deepEqual(health, { status: 'ok' });
  assert.doesNotMatch(stderr, /code cache/);
});

test('with --enable-source-maps the bundle is loaded so that its traces map back to the sources', async () => {
  const port = await freePort();
  // Loads the server as the entry does, then asks node which source map it holds for the bundle.
  const script = [
    `await import(${JSON.stringify(pathToFileURL(SERVER).href)});`,
    "const { findSourceMap } = await import('node:module');",
    `const map = findSourceMap(${JSON.stringify(BUNDLE)});`,
    "process.stdout.write(JSON.stringify(map ? map.payload.sources.filter((s) => s.endsWith('/src/server.ts')) : null));",
    'process.exit(0);',
  ].join('\n');
  const { stdout } = await promisify(execFile)(process.execPath, ['--enable-source-maps', '--input-type=module', '-e', script], {
    env: { PATH: process.env.PATH, PORT: String(port), RELAY_CONFIG: EXAMPLE_CONFIG, LOG_LEVEL: 'error' },
  });
  assert.equal((JSON.parse(stdout) as string[] | null)?.length, 1, `the map names src/server.ts: ${stdout}`);
});
