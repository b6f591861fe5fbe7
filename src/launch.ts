import { restoreDefaultV8Flags } from './node-flags.js';
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Script } from 'node:vm';

/*
 * The process entry of the bundled server (dist/server.cjs): runs dist/relay.cjs, the relay and its
 * dependencies in one file, with the V8 code cache `npm run build` made for it. Compiling the
 * bundle from source is a third of a cold start, and a scale-from-zero request waits for it.
 *
 * The cache is bytecode only, tied to the Node.js build and the V8 flags that made it: V8 refuses
 * it otherwise, and the relay then compiles from source as usual and says so once on stderr.
 * Nothing else differs.
 */

// First: what loads after this takes Node's code cache for its built-in modules.
restoreDefaultV8Flags();

const dir = dirname(fileURLToPath(import.meta.url));
const BUNDLE = join(dir, 'relay.cjs');
const CODE_CACHE = join(dir, 'relay.cjs.codecache');
/** Set by the build (scripts/code-cache.mjs): write the cache when this run exits. */
const WRITE_CODE_CACHE = process.env.RELAY_WRITE_CODE_CACHE === '1';

function readCodeCache(): Buffer | undefined {
  if (WRITE_CODE_CACHE) return undefined;
  try {
    return readFileSync(CODE_CACHE);
  } catch {
    return undefined;
  }
}

const require = createRequire(BUNDLE);

/** Compiles the bundle as Node's CommonJS loader would, with the cache; runs it. */
function runWithCodeCache(): void {
  // Read as bytes, then decoded: on Node 20 that is 10 ms faster for this file than reading it as
  // 'utf8'. The wrapper sits on a line of its own, so the bundle's lines and columns hold.
  const text = readFileSync(BUNDLE).toString('utf8');
  const source = `(function (exports, require, module, __filename, __dirname) {\n${text}\n})`;
  const cachedData = readCodeCache();
  const script = new Script(source, { filename: BUNDLE, lineOffset: -1, cachedData });
  if (cachedData && script.cachedDataRejected) {
    process.stderr.write(
      `${JSON.stringify({ severity: 'WARNING', message: `code cache ${CODE_CACHE} was made by another Node.js build or under other V8 flags (this is ${process.version}): compiling from source, which slows the start; rebuild to renew it` })}\n`,
    );
  }
  if (WRITE_CODE_CACHE) {
    // At exit the cache also holds every function the run compiled, not only the top level.
    process.once('exit', () => writeFileSync(CODE_CACHE, script.createCachedData()));
  }
  const module = { exports: {} };
  (script.runInThisContext() as ModuleWrapper)(module.exports, require, module, BUNDLE, dir);
}

type ModuleWrapper = (exports: object, require: NodeJS.Require, module: object, filename: string, dirname: string) => void;

// Node maps stack traces through dist/relay.cjs.map (--enable-source-maps) only for files its own
// loader compiled, so a run that asks for mapped traces trades the cache for them.
if (process.sourceMapsEnabled) require(BUNDLE);
else runWithCodeCache();
