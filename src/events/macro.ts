import { truncate } from '../text.js';

/**
 * The unexpanded-macro guard. Networks and trackers each have their own placeholder syntax, and a
 * tracking link that was never filled in lands with the placeholder itself as the click ID; the
 * network then answers "Invalid click_id" and the conversion is lost. The syntaxes below are the
 * ones seen in networks' and trackers' own documentation.
 */
const PLACEHOLDER_PATTERNS: Array<[RegExp, string]> = [
  [/\$\{[^}]*\}/, 'a ${MACRO} placeholder'],
  [/\{[^{}]*\}/, 'a {macro} placeholder'],
  [/#[A-Za-z_][A-Za-z0-9_]*#/, 'a #macro# placeholder'],
  [/\[\[?[A-Za-z_][A-Za-z0-9_:]*\]?\]/, 'a [MACRO] placeholder'],
  // Letters only after %, so a real %XX escape that survived decoding does not match.
  [/%[A-Za-z_][A-Za-z0-9_]*%/, 'a %MACRO% placeholder'],
  [/<[A-Za-z_][A-Za-z0-9_]*>/, 'an <MACRO> placeholder'],
  [/!!![A-Za-z0-9_]+!!!/, 'a !!!macro!!! placeholder'],
];

const LITERAL_PLACEHOLDERS = new Set([
  'REPLACE', 'OPTIONAL', 'TRANSACTION_ID', 'REQUEST_SESSION_ID', 'CLICK_ID', 'CLICKID', 'SUBID',
  'SUB_ID', 'TID', 'AFFSESSIONID', 'TPUID', 'TPSID',
]);

const EMPTY_LIKE = new Set(['null', 'undefined', 'none', 'nan', '(not set)', 'false', 'true', '0', '-1']);

/**
 * Letters, digits, `_`, `.` and `-` only: no placeholder syntax can match and there is nothing to
 * decode, so only a literal stand-in can make such a value a placeholder, and none is longer than
 * this. Most click IDs are such values, and are checked once per landing and once per postback.
 */
const PLAIN = /^[A-Za-z0-9_.-]+$/;
const LONGEST_STAND_IN = Math.max(...[...LITERAL_PLACEHOLDERS, ...EMPTY_LIKE].map((text) => text.length));

/** Undoes up to two layers of percent-encoding, so `%257Bclickid%257D` is seen as `{clickid}`. */
function decodedForms(value: string): string[] {
  const forms = [value];
  let current = value;
  for (let i = 0; i < 2; i++) {
    let next: string;
    try {
      next = decodeURIComponent(current);
    } catch {
      break;
    }
    if (next === current) break;
    forms.push(next);
    current = next;
  }
  return forms;
}

/**
 * Why a value cannot be a real click ID, or undefined when it may be one. The reason is written
 * for a marketer reading the trace.
 */
export function placeholderReason(value: string): string | undefined {
  if (value.length > LONGEST_STAND_IN && PLAIN.test(value)) return undefined;
  for (const form of decodedForms(value)) {
    const trimmed = form.trim();
    if (trimmed === '') return 'the value is empty';
    if (EMPTY_LIKE.has(trimmed.toLowerCase())) return `"${trimmed}" is an empty-value stand-in, not a click ID`;
    if (LITERAL_PLACEHOLDERS.has(trimmed.toUpperCase())) {
      return `"${trimmed}" is a literal placeholder that was never replaced`;
    }
    for (const [pattern, label] of PLACEHOLDER_PATTERNS) {
      if (pattern.test(form)) return `"${truncate(value)}" contains ${label} that was never expanded`;
    }
  }
  return undefined;
}
