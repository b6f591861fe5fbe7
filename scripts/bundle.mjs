import { rmSync } from 'node:fs';
import { build } from 'esbuild';

/*
 * Last steps of `npm run build`, after tsc: the server the container runs.
 *
 * dist/relay.cjs holds the compiled server (dist/src/server.js) and its dependencies in one file:
 * loading one file instead of some thousand modules takes about a third off a cold start, which a
 * scale-from-zero request waits for. Minified, it reads and compiles in half the time again.
 * CommonJS, because only a script (not an ES module) can be compiled with a V8 code cache on
 * Node.js 20; scripts/code-cache.mjs makes that cache next.
 *
 * dist/server.cjs (src/launch.ts) is what `node` runs: it loads dist/relay.cjs with the cache.
 */
/*
 * Libraries the server loads on first use only, each in a bundle of its own beside relay.cjs:
 * undici with the first postback, express and helmet with the first admin or /metrics request.
 * Out of relay.cjs, they are not read at every start: a start reads and maps the main bundle
 * whole, and these were 1.2 MB of its 2.4 MB. Each has a code cache of its own too
 * (scripts/code-cache.mjs), so its first use does not compile it either.
 */
const LATER = ['undici', 'express', 'helmet'];
const later = (name) => `./later/${name}.cjs`;

// A cache belongs to one bundle: the old ones go before the bundles change.
for (const bundle of ['relay.cjs', ...LATER.map(later)]) rmSync(`dist/${bundle}.codecache`, { force: true });

for (const name of LATER) {
  await build({
    stdin: { contents: `module.exports = require('${name}');`, resolveDir: '.', loader: 'js' },
    outfile: `dist/${later(name)}`,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    minify: true,
    sourcemap: true,
    logLevel: 'warning',
  });
}

/** The main bundle's imports of those libraries become requires of their bundles. */
const loadedLater = {
  name: 'loaded-later',
  setup(plugin) {
    const filter = new RegExp(`^(${LATER.join('|')})$`);
    plugin.onResolve({ filter }, (args) => ({ path: later(args.path), external: true }));
  },
};

await build({
  entryPoints: ['dist/src/server.js'],
  outfile: 'dist/relay.cjs',
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  minify: true,
  plugins: [loadedLater],
  // import() of a bundle loaded later as require(): a script compiled with a code cache (launch.ts)
  // has no module loader to resolve an import() against.
  supported: { 'dynamic-import': false },
  // Stack traces name the bundle's lines; NODE_OPTIONS=--enable-source-maps maps them back.
  sourcemap: true,
  // The sources find the templates and the example config relative to their own file.
  define: { 'import.meta.url': '__bundleUrl' },
  banner: { js: "const __bundleUrl = require('node:url').pathToFileURL(__filename).href;" },
  logLevel: 'warning',
});

/*
 * The entry is CommonJS too: a main module that is an ES module first loads Node's ES module loader,
 * which under the server's V8 flags, before the entry can restore V8's defaults, is compiled from
 * source (src/node-flags.ts): about a tenth of a start on a slow host.
 */
await build({
  entryPoints: ['dist/src/launch.js'],
  outfile: 'dist/server.cjs',
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  define: { 'import.meta.url': '__entryUrl' },
  banner: { js: "const __entryUrl = require('node:url').pathToFileURL(__filename).href;" },
  logLevel: 'warning',
});
