import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parse, stringify } from 'yaml';
import { NODE_FLAGS } from '../dist/src/node-flags.js';

/*
 * Last step of `npm run build`: runs the bundled server once, on the example config with its
 * destination pointed at a local sink and the memory store, through its start, a few hits, a
 * postback, /metrics and an admin request, and has it write the code caches as it exits:
 * dist/relay.cjs.codecache, and one beside each library loaded on first use (dist/later/). The
 * caches then hold the bytecode of everything a start, the first hits, the first postback and the
 * first admin request run, so none of them compiles much. They must be made by the same Node.js
 * build that runs them (the Dockerfile builds and runs on one image); a cache made otherwise is
 * refused and the relay compiles from source. The server's own flags (src/node-flags.ts) are set
 * back to V8's defaults before a cache is read or made, so the caches are V8's defaults' either way.
 */
const SERVER = 'dist/server.cjs';
/** The main bundle's cache, and one for each library bundled to load on first use (scripts/bundle.mjs). */
const CODE_CACHES = ['dist/relay.cjs', ...readdirSync('dist/later').filter((f) => f.endsWith('.cjs')).map((f) => `dist/later/${f}`)]
  .map((bundle) => `${bundle}.codecache`);
const START_TIMEOUT_MS = 20_000;
const ADMIN_TOKEN = 'code-cache-admin-token';

/** Takes the postback, so the run sends one as the relay sends them, to a network that answers. */
let postbacks = 0;
const sink = createServer((req, res) => {
  postbacks++;
  req.resume();
  res.end('OK');
});
await new Promise((resolve) => sink.listen(0, '127.0.0.1', resolve));
const port = await new Promise((resolve) => {
  const probe = createServer().listen(0, '127.0.0.1', () => {
    const { port } = probe.address();
    probe.close(() => resolve(port));
  });
});

const config = parse(readFileSync('deploy/relay.example.yaml', 'utf8'));
for (const destination of config.destinations) {
  destination.mode = 'live';
  destination.settings.baseUrl = `http://127.0.0.1:${sink.address().port}`;
}
const configDir = mkdtempSync(join(tmpdir(), 'relay-code-cache-'));
const configPath = join(configDir, 'relay.yaml');
writeFileSync(configPath, stringify(config));

const child = spawn(process.execPath, [...NODE_FLAGS, SERVER], {
  env: {
    PATH: process.env.PATH, PORT: String(port), RELAY_CONFIG: configPath, LOG_LEVEL: 'error',
    RELAY_ADMIN_TOKEN: ADMIN_TOKEN, RELAY_WRITE_CODE_CACHE: '1',
  },
  stdio: ['ignore', 'ignore', 'inherit'],
});
const exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));

function fail(message) {
  child.kill('SIGKILL');
  sink.close();
  rmSync(configDir, { recursive: true, force: true });
  throw new Error(message);
}

const base = `http://127.0.0.1:${port}`;
const deadline = Date.now() + START_TIMEOUT_MS;
for (;;) {
  try {
    if ((await fetch(`${base}/healthy`)).ok) break;
  } catch {
    // not listening yet
  }
  if (child.exitCode !== null) fail(`${SERVER} exited with ${child.exitCode} before answering /healthy`);
  if (Date.now() > deadline) fail(`${SERVER} did not answer /healthy within ${START_TIMEOUT_MS} ms`);
  await sleep(10);
}
// A page view, a landing and a purchase, so the first hits after a start find their code compiled too.
const hit = async (query, cookie) => {
  const res = await fetch(`${base}/g/collect?v=2&tid=G-CACHE&cid=1.2&${query}`, { method: 'POST', headers: cookie ? { cookie } : {} });
  if (res.status !== 204) fail(`${SERVER} answered ${res.status} to a ${query.split('&')[0]} hit: ${await res.text()}`);
  return res;
};
await hit('en=page_view&dl=https%3A%2F%2Fshop.example%2F');
const landing = await hit('en=page_view&dl=https%3A%2F%2Fshop.example%2F%3Fs1%3Dabc123');
const cookie = landing.headers.get('set-cookie')?.split(';')[0];
await hit('en=purchase&ep.transaction_id=T1&epn.value=10&cu=EUR', cookie);
while (postbacks === 0) {
  if (Date.now() > deadline) fail(`${SERVER} sent no postback for the purchase within ${START_TIMEOUT_MS} ms`);
  await sleep(10);
}
await fetch(`${base}/ready`);
await (await fetch(`${base}/metrics`)).text();
const admin = await fetch(`${base}/admin/postbacks`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
if (admin.status !== 200) fail(`${SERVER} answered ${admin.status} to GET /admin/postbacks`);
await admin.text();

child.kill('SIGTERM');
const code = await exited;
sink.close();
rmSync(configDir, { recursive: true, force: true });
if (code !== 0) throw new Error(`${SERVER} exited with ${code} while writing its code caches`);
for (const cache of CODE_CACHES) console.log(`code cache: ${cache} (${Math.round(statSync(cache).size / 1024)} KiB)`);
