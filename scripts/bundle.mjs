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
 * dist/server.mjs (src/launch.ts) is what `node` runs: it loads dist/relay.cjs with the cache.
 */
// A cache belongs to one bundle: the old one goes before the bundle changes.
rmSync('dist/relay.cjs.codecache', { force: true });

await build({
  entryPoints: ['dist/src/server.js'],
  outfile: 'dist/relay.cjs',
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  minify: true,
  // Stack traces name the bundle's lines; NODE_OPTIONS=--enable-source-maps maps them back.
  sourcemap: true,
  // The sources find the templates and the example config relative to their own file.
  define: { 'import.meta.url': '__bundleUrl' },
  banner: { js: "const __bundleUrl = require('node:url').pathToFileURL(__filename).href;" },
  logLevel: 'warning',
});

await build({
  entryPoints: ['dist/src/launch.js'],
  outfile: 'dist/server.mjs',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  logLevel: 'warning',
});
