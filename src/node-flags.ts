import { setFlagsFromString } from 'node:v8';

/**
 * The V8 flags the server runs under: the container's CMD and `npm start` pass them. deploy/
 * Dockerfile and package.json spell them out; a test holds both to this list.
 *
 * Semi-spaces of 32 MB instead of V8's default 16: every request allocates, and a young generation
 * twice the size is scavenged half as often, with less of it promoted. Under load that took about
 * a tenth off the CPU per conversion and about a twentieth off a page view's, for about 30 MiB more
 * RSS (BENCHMARKS.md).
 *
 * And a young generation that starts at 16 MB, not at 1 MB: a start allocates some 15 MB that
 * nearly all lives on, and a young generation growing from V8's smallest copied it over and over,
 * in six scavenges that took a tenth of a start on a slow host. It grows to 32 MB under load as
 * before.
 */
export const NODE_FLAGS: readonly string[] = ['--max-semi-space-size=32', '--min-semi-space-size=16'];

/** Each of NODE_FLAGS at V8's default value: they are sizes, and 0 has V8 size it from the heap's limit. */
const V8_DEFAULTS: readonly string[] = NODE_FLAGS.map((flag) => `${flag.slice(0, flag.indexOf('='))}=0`);

/**
 * Sets the flags back to V8's defaults once the heap has taken its sizes from them, which it keeps.
 * V8 refuses a code cache made under other flags than the running ones, Node's own for its built-in
 * modules too: with the flags still set, every built-in module a start loads was compiled from
 * source, about a sixth of a start on a slow host. The server's own cache (src/launch.ts) is then
 * made and read under V8's defaults as well.
 */
export function restoreDefaultV8Flags(): void {
  for (const flag of V8_DEFAULTS) setFlagsFromString(flag);
}
