import { restoreDefaultV8Flags } from './node-flags.js';
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Script } from 'node:vm';

/*
 * The process entry of the bundled server (dist/server.cjs): runs dist/relay.cjs, the relay and its
 * dependencies in one file, with the V8 code cache `npm run build` made for it. Compiling the
 * bundle from source is a third of a cold start, and a scale-from-zero request waits for it. The
 * libraries loaded on first use (dist/later/, scripts/bundle.mjs) come with caches of their own:
 * the first postback and the first admin request do not compile them either.
 *
 * A cache is bytecode only, tied to the Node.js build and the V8 flags that made it: V8 refuses
 * it otherwise, and the relay then compiles from source as usual and says so once on stderr.
 * Nothing else differs.
 */

// First: what loads after this takes Node's code cache for its built-in modules.
restoreDefaultV8Flags();

const dir = dirname(fileURLToPath(import.meta.url));
const BUNDLE = join(dir, 'relay.cjs');
/** How the bundle names a library loaded on first use. */
const LOADED_LATER = /^\.\/later\/[a-z]+\.cjs$/;
/** Set by the build (scripts/code-cache.mjs): write the caches when this run exits. */
const WRITE_CODE_CACHE = process.env.RELAY_WRITE_CODE_CACHE === '1';

const codeCacheOf = (file: string) => `${file}.codecache`;

function readCodeCache(file: string): Buffer | undefined {
  if (WRITE_CODE_CACHE) return undefined;
  try {
    return readFileSync(codeCacheOf(file));
  } catch {
    return undefined;
  }
}

let refusalReported = false;

function reportRefusal(file: string): void {
  // Once: every other cache of the build is refused for the same reason.
  if (refusalReported) return;
  refusalReported = true;
  process.stderr.write(
    `${JSON.stringify({ severity: 'WARNING', message: `code cache ${codeCacheOf(file)} was made by another Node.js build or under other V8 flags (this is ${process.version}): compiling from source, which slows the start; rebuild to renew it` })}\n`,
  );
}

/** Scripts compiled in this run, whose caches a build's run writes as it exits. */
const compiled: Array<{ file: string; script: Script }> = [];
if (WRITE_CODE_CACHE) {
  // At exit a cache also holds every function the run compiled, not only the top level.
  process.once('exit', () => {
    for (const { file, script } of compiled) writeFileSync(codeCacheOf(file), script.createCachedData());
  });
}

/** Compiles a bundle as Node's CommonJS loader would, with its cache; runs it and returns its exports. */
function loadWithCodeCache(file: string, require: NodeJS.Require): unknown {
  // Read as bytes, then decoded: on Node 20 that is 10 ms faster for the main bundle than reading
  // it as 'utf8'. The wrapper sits on a line of its own, so the bundle's lines and columns hold.
  const text = readFileSync(file).toString('utf8');
  const source = `(function (exports, require, module, __filename, __dirname) {\n${text}\n})`;
  const cachedData = readCodeCache(file);
  const script = new Script(source, { filename: file, lineOffset: -1, cachedData });
  if (cachedData && script.cachedDataRejected) reportRefusal(file);
  if (WRITE_CODE_CACHE) compiled.push({ file, script });
  const module = { exports: {} };
  (script.runInThisContext() as ModuleWrapper)(module.exports, require, module, file, dirname(file));
  return module.exports;
}

type ModuleWrapper = (exports: object, require: NodeJS.Require, module: { exports: unknown }, filename: string, dirname: string) => void;

/** The main bundle's require: a library loaded on first use comes compiled with its cache, once. */
function bundleRequire(): NodeJS.Require {
  const require = createRequire(BUNDLE);
  const loaded = new Map<string, unknown>();
  const load = (id: string): unknown => {
    if (!LOADED_LATER.test(id)) return require(id);
    if (!loaded.has(id)) {
      const file = join(dir, id);
      loaded.set(id, loadWithCodeCache(file, createRequire(file)));
    }
    return loaded.get(id);
  };
  // require.main, require.resolve and the rest, which bundled libraries may read.
  return Object.assign(load, require);
}

// Node maps stack traces through the bundles' source maps (--enable-source-maps) only for files
// its own loader compiled, so a run that asks for mapped traces trades the caches for them.
if (process.sourceMapsEnabled) createRequire(BUNDLE)(BUNDLE);
else loadWithCodeCache(BUNDLE, bundleRequire());
