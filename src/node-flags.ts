/**
 * The V8 flags the server runs under: the container's CMD and `npm start` pass them, and the build
 * makes the code cache under them (scripts/code-cache.mjs), since V8 refuses a cache made under
 * other flags. deploy/Dockerfile and package.json spell them out; a test holds both to this list.
 *
 * Semi-spaces of 32 MB instead of V8's default 16: every request allocates, and a young generation
 * twice the size is scavenged half as often, with less of it promoted. Under load that took about
 * a tenth off the CPU per conversion and about a twentieth off a page view's, for about 30 MiB more
 * RSS and a start 20–30 ms longer: under any flag V8 also refuses Node's own code cache for its
 * built-in modules (BENCHMARKS.md).
 *
 * And a young generation that starts at 16 MB, not at 1 MB: a start allocates some 15 MB that
 * nearly all lives on, and a young generation growing from V8's smallest copied it over and over,
 * in six scavenges that took a tenth of a start on a slow host. It grows to 32 MB under load as
 * before.
 */
export const NODE_FLAGS: readonly string[] = ['--max-semi-space-size=32', '--min-semi-space-size=16'];
