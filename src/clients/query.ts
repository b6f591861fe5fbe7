import { unescape } from 'node:querystring';
import { includes, indexOf, slice } from '../strings.js';

/**
 * Calls `visit` for each `name=value` pair of an `application/x-www-form-urlencoded` string, in
 * order, decoded as URLSearchParams decodes them: `+` is a space, and a malformed percent sequence
 * is kept as written rather than rejected. It exists because every hit is one such string, and
 * URLSearchParams allocates an entries list and an iterator per hit.
 */
export function forEachParam(query: string, visit: (name: string, value: string) => void): void {
  let start = 0;
  const length = query.length;
  while (start <= length) {
    let end = indexOf(query, '&', start);
    if (end < 0) end = length;
    if (end > start) {
      const eq = indexOf(query, '=', start);
      if (eq < 0 || eq > end) visit(decode(slice(query, start, end)), '');
      else visit(decode(slice(query, start, eq)), decode(slice(query, eq + 1, end)));
    }
    start = end + 1;
  }
}

function decode(text: string): string {
  const spaced = includes(text, '+') ? text.replaceAll('+', ' ') : text;
  // querystring.unescape falls back to byte-wise decoding when decodeURIComponent throws.
  return includes(spaced, '%') ? unescape(spaced) : spaced;
}
