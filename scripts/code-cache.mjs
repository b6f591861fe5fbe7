import { spawn } from 'node:child_process';
import { statSync } from 'node:fs';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { NODE_FLAGS } from '../dist/src/node-flags.js';

/*
 * Last step of `npm run build`: runs the bundled server once, on the example config and the memory
 * store, through its start and a few requests, and has it write dist/relay.cjs.codecache as it
 * exits. The cache then holds the bytecode of everything a start runs, so the next start compiles
 * almost nothing. It must be made by the same Node.js build that runs it (the Dockerfile builds and
 * runs on one image), under the same V8 flags; a cache made otherwise is refused and the relay
 * compiles from source. The server's own flags (src/node-flags.ts) are set back to V8's defaults
 * before the cache is read or made, so the cache is V8's defaults' either way.
 */
const SERVER = 'dist/server.cjs';
const CODE_CACHE = 'dist/relay.cjs.codecache';
const START_TIMEOUT_MS = 20_000;

const port = await new Promise((resolve) => {
  const probe = createServer().listen(0, '127.0.0.1', () => {
    const { port } = probe.address();
    probe.close(() => resolve(port));
  });
});
const child = spawn(process.execPath, [...NODE_FLAGS, SERVER], {
  env: {
    PATH: process.env.PATH, PORT: String(port), RELAY_CONFIG: 'deploy/relay.example.yaml', LOG_LEVEL: 'error',
    RELAY_WRITE_CODE_CACHE: '1',
  },
  stdio: ['ignore', 'ignore', 'inherit'],
});
const exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));

const base = `http://127.0.0.1:${port}`;
const deadline = Date.now() + START_TIMEOUT_MS;
for (;;) {
  try {
    if ((await fetch(`${base}/healthy`)).ok) break;
  } catch {
    // not listening yet
  }
  if (child.exitCode !== null) throw new Error(`${SERVER} exited with ${child.exitCode} before answering /healthy`);
  if (Date.now() > deadline) {
    child.kill('SIGKILL');
    throw new Error(`${SERVER} did not answer /healthy within ${START_TIMEOUT_MS} ms`);
  }
  await sleep(10);
}
// A page view, a landing and a purchase, so the first hits after a start find their code compiled too.
const hit = async (query, cookie) => {
  const res = await fetch(`${base}/g/collect?v=2&tid=G-CACHE&cid=1.2&${query}`, { method: 'POST', headers: cookie ? { cookie } : {} });
  if (res.status !== 204) {
    child.kill('SIGKILL');
    throw new Error(`${SERVER} answered ${res.status} to a ${query.split('&')[0]} hit: ${await res.text()}`);
  }
  return res;
};
await hit('en=page_view&dl=https%3A%2F%2Fshop.example%2F');
const landing = await hit('en=page_view&dl=https%3A%2F%2Fshop.example%2F%3Fs1%3Dabc123');
const cookie = landing.headers.get('set-cookie')?.split(';')[0];
await hit('en=purchase&ep.transaction_id=T1&epn.value=10&cu=EUR', cookie);
await fetch(`${base}/ready`);

child.kill('SIGTERM');
const code = await exited;
if (code !== 0) throw new Error(`${SERVER} exited with ${code} while writing its code cache`);
console.log(`code cache: ${CODE_CACHE} (${Math.round(statSync(CODE_CACHE).size / 1024)} KiB)`);
