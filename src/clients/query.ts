import { unescape } from 'node:querystring';

/**
 * Calls `visit` for each `name=value` pair of an `application/x-www-form-urlencoded` string, in
 * order, decoded as URLSearchParams decodes them: `+` is a space, and a malformed percent sequence
 * is kept as written rather than rejected. It exists because every hit is one such string, and
 * URLSearchParams allocates an entries list and an iterator per hit.
 */
export function forEachParam(query: string, visit: (name: string, value: string) => void): void {
  let start = 0;
  while (start <= query.length) {
    let end = query.indexOf('&', start);
    if (end < 0) end = query.length;
    if (end > start) {
      const eq = query.indexOf('=', start);
      if (eq < 0 || eq > end) visit(decode(query.slice(start, end)), '');
      else visit(decode(query.slice(start, eq)), decode(query.slice(eq + 1, end)));
    }
    start = end + 1;
  }
}

function decode(text: string): string {
  const spaced = text.includes('+') ? text.replaceAll('+', ' ') : text;
  // querystring.unescape falls back to byte-wise decoding when decodeURIComponent throws.
  return spaced.includes('%') ? unescape(spaced) : spaced;
}
