import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { parse, stringify } from 'yaml';
import { NODE_FLAGS } from '../../src/node-flags.js';
import { freePort } from '../helpers/redis-server.js';

/*
 * The bundled server as the container starts it (`node --max-semi-space-size=32 --min-semi-space-size=16 dist/server.cjs`, built
 * by `npm run build`):
 * with the code caches the build made, with caches V8 refuses, and with mapped stack traces.
 */
const DIST = join(import.meta.dirname, '..', '..', 'dist');
const SERVER = join(DIST, 'server.cjs');
const BUNDLE = join(DIST, 'relay.cjs');
const EXAMPLE_CONFIG = join(import.meta.dirname, '..', '..', 'deploy', 'relay.example.yaml');

interface Started {
  base: string;
  health: unknown;
  /** What the server wrote to stderr so far. */
  stderr(): string;
  stop(): Promise<void>;
}

/** Starts `server` with `nodeArgs` and waits for /healthy. */
async function start(nodeArgs: string[], options: { server?: string; env?: Record<string, string> } = {}): Promise<Started> {
  const port = await freePort();
  const child = spawn(process.execPath, [...nodeArgs, options.server ?? SERVER], {
    env: { PATH: process.env.PATH, PORT: String(port), RELAY_CONFIG: EXAMPLE_CONFIG, LOG_LEVEL: 'error', ...options.env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const stop = async () => {
    child.kill('SIGTERM');
    await exited;
  };
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`server exited at startup: ${stderr}`);
    try {
      const res = await fetch(`${base}/healthy`);
      if (res.status === 200) return { base, health: await res.json(), stderr: () => stderr, stop };
    } catch {
      // not listening yet
    }
    if (i > 400) {
      await stop();
      throw new Error(`server never answered /healthy: ${stderr}`);
    }
    await sleep(10);
  }
}

/** Starts the server with `nodeArgs`, waits for /healthy, stops it; returns what it wrote to stderr. */
async function startOnce(nodeArgs: string[]): Promise<{ stderr: string; health: unknown }> {
  const server = await start(nodeArgs);
  await server.stop();
  return { stderr: server.stderr(), health: server.health };
}

/** The code-cache warnings a server wrote. */
function cacheWarnings(stderr: string): Array<{ severity: string; message: string }> {
  return stderr.split('\n').filter((line) => line.includes('code cache')).map((line) => JSON.parse(line) as { severity: string; message: string });
}

test('the build leaves the bundle, its code cache, the entry that loads them and the bundles loaded later', () => {
  const later = ['undici', 'express', 'helmet'].flatMap((name) => [`later/${name}.cjs`, `later/${name}.cjs.codecache`]);
  for (const file of ['server.cjs', 'relay.cjs', 'relay.cjs.codecache', 'relay.cjs.map', ...later]) {
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
  const warnings = cacheWarnings(stderr);
  assert.equal(warnings.length, 1);
  const warning = warnings[0]!;
  assert.equal(warning.severity, 'WARNING');
  assert.match(warning.message, /compiling from source/);
});

test('the libraries loaded on first use come with their code caches: a postback, /metrics and the admin API', async () => {
  // The example's destination, live, sending to a network here.
  const received: string[] = [];
  const network = createServer((req, res) => {
    received.push(req.url ?? '');
    req.resume();
    res.end('OK');
  });
  await new Promise<void>((resolve) => network.listen(0, '127.0.0.1', resolve));
  const dir = mkdtempSync(join(tmpdir(), 'relay-launch-'));
  const config = parse(readFileSync(EXAMPLE_CONFIG, 'utf8')) as { destinations: Array<{ mode: string; settings: { baseUrl: string } }> };
  for (const destination of config.destinations) {
    destination.mode = 'live';
    destination.settings.baseUrl = `http://127.0.0.1:${(network.address() as { port: number }).port}`;
  }
  writeFileSync(join(dir, 'relay.yaml'), stringify(config));
  const token = 'launch-test-admin-token';
  const server = await start([...NODE_FLAGS], { env: { RELAY_CONFIG: join(dir, 'relay.yaml'), RELAY_ADMIN_TOKEN: token } });
  try {
    const hit = (query: string, cookie?: string) =>
      fetch(`${server.base}/g/collect?v=2&tid=G-LAUNCH&cid=1.2&${query}`, { method: 'POST', headers: cookie ? { cookie } : {} });
    const landing = await hit('en=page_view&dl=https%3A%2F%2Fshop.example%2F%3Fs1%3Dlaunch-click');
    const cookie = landing.headers.get('set-cookie')!.split(';')[0]!;
    assert.equal((await hit('en=purchase&ep.transaction_id=LAUNCH-1&epn.value=10&cu=EUR', cookie)).status, 204);
    for (let i = 0; received.length === 0 && i < 500; i++) await sleep(10);
    assert.equal(received.length, 1, 'the postback reached the network');
    assert.match(received[0]!, /launch-click/);
    const metrics = await fetch(`${server.base}/metrics`);
    assert.equal(metrics.status, 200);
    await metrics.text();
    const admin = await fetch(`${server.base}/admin/postbacks`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(admin.status, 200);
    await admin.text();
  } finally {
    await server.stop();
    network.close();
    rmSync(dir, { recursive: true, force: true });
  }
  assert.deepEqual(cacheWarnings(server.stderr()), []);
});

test('a library\'s cache V8 refuses is reported once, and the library still loads from source', async () => {
  // Another bundle's cache in express's place: V8 checks a cache against the source it is given.
  // A copy of the build, beside the templates it reads as the checkout's dist/ does.
  const dir = mkdtempSync(join(tmpdir(), 'relay-launch-'));
  const dist = join(dir, 'dist');
  cpSync(DIST, dist, { recursive: true });
  symlinkSync(join(DIST, '..', 'templates'), join(dir, 'templates'));
  cpSync(join(dist, 'later', 'helmet.cjs.codecache'), join(dist, 'later', 'express.cjs.codecache'));
  const server = await start([...NODE_FLAGS], { server: join(dist, 'server.cjs') });
  try {
    assert.deepEqual(cacheWarnings(server.stderr()), [], 'the start itself runs on its cache');
    for (let i = 0; i < 2; i++) {
      const metrics = await fetch(`${server.base}/metrics`);
      assert.equal(metrics.status, 200);
      assert.match(await metrics.text(), /# HELP/);
    }
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  const warnings = cacheWarnings(server.stderr());
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!.message, /later\/express\.cjs\.codecache.*compiling from source/);
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
