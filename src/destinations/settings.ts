/**
 * Checks a destination's `settings` from the operator's config against what its template declares,
 * once at startup. The renderer substitutes `type: url` and `type: host` values without encoding
 * (they are the scheme and host), which is safe only because they are validated here.
 */
import { ConfigError } from '../errors.js';
import { placeholderReason } from '../events/macro.js';
import { didYouMean } from './suggest.js';
import type { SettingSpec, Template } from './template.js';

const SECRET = '<secret>';
const HOST_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
/** Characters every placeholder syntax the macro guard knows uses; a value without them holds none. */
const MACRO_DELIMITERS = /[{}$#[\]%<>!]/;

export type ValueCheck = { ok: true; value: string } | { ok: false; reason: string };

/** The operator's settings for one destination, checked, with defaults applied; absent optional ones are left out. */
export function resolveSettings(template: Template, given: Record<string, unknown>, where: string): Record<string, string> {
  const problems: string[] = [];
  const resolved: Record<string, string> = {};
  for (const key of Object.keys(given)) {
    if (!template.settings.has(key)) problems.push(unknownSettingMessage(template, key, where));
  }
  for (const spec of template.settings.values()) {
    const path = `${where}.${spec.name}`;
    const result = resolveOne(spec, Object.hasOwn(given, spec.name) ? given[spec.name] : undefined, path);
    if (typeof result === 'object') problems.push(result.problem);
    else if (result !== undefined) resolved[spec.name] = result;
  }
  if (problems.length > 0) {
    const count = problems.length === 1 ? '1 problem' : `${problems.length} problems`;
    const header = `settings for destination template ${template.id} have ${count}:`;
    throw new ConfigError([header, ...problems.map((problem) => `  - ${problem}`)].join('\n'));
  }
  return resolved;
}

function unknownSettingMessage(template: Template, key: string, where: string): string {
  const declared = [...template.settings.keys()];
  const list = declared.length > 0 ? ` Its settings: ${declared.join(', ')}.` : ' It takes no settings.';
  const suggestion = didYouMean(key, declared);
  return `${where}.${key} is not a setting of template ${template.id}${suggestion || '.'}${list}`;
}

function resolveOne(spec: SettingSpec, given: unknown, path: string): string | undefined | { problem: string } {
  const text = asText(given);
  if (typeof text === 'object') return { problem: `${path} ${text.problem}` };
  const value = text === undefined || text === '' ? spec.default : text;
  if (value === undefined) {
    if (!spec.required) return undefined;
    const hint = spec.description ? `: ${spec.description}` : '';
    return { problem: `${path} is required${hint}` };
  }
  const checked = checkSettingValue(spec, value);
  return checked.ok ? checked.value : { problem: `${path}: ${checked.reason}` };
}

/** Numbers are accepted because YAML reads `offer_id: 123` as one. */
function asText(given: unknown): string | undefined | { problem: string } {
  if (given === undefined || given === null) return undefined;
  if (typeof given === 'string') return given.trim();
  if (typeof given === 'number' && Number.isFinite(given)) return String(given);
  return { problem: `must be text or a number, not ${Array.isArray(given) ? 'a list' : typeof given}` };
}

function checkSettingValue(spec: SettingSpec, value: string): ValueCheck {
  const shown = spec.secret ? SECRET : JSON.stringify(value);
  const placeholder = embeddedPlaceholderReason(value);
  if (placeholder) return { ok: false, reason: spec.secret ? `${SECRET} contains an unexpanded placeholder` : placeholder };
  const typed = spec.type === 'url' ? checkUrlSetting(value) : spec.type === 'host' ? checkHostSetting(value) : { ok: true as const, value };
  if (!typed.ok) return { ok: false, reason: `${shown} ${typed.reason}` };
  if (spec.pattern && !spec.pattern.test(typed.value)) {
    return { ok: false, reason: `${shown} does not match the pattern ${spec.pattern.source}` };
  }
  return typed;
}

/**
 * The macro guard limited to placeholder syntax. Its empty-value and stand-in checks ("0", "none",
 * "true") are right for click IDs but would reject ordinary settings and event values, so they are
 * skipped for values that carry no placeholder delimiter at all.
 */
export function embeddedPlaceholderReason(value: string): string | undefined {
  return MACRO_DELIMITERS.test(value) ? placeholderReason(value) : undefined;
}

/** An absolute http(s) URL with no query, fragment or credentials; returned without a trailing slash. */
export function checkUrlSetting(value: string): ValueCheck {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return { ok: false, reason: 'is not an absolute URL; write it like https://track.example.com/postback' };
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return { ok: false, reason: 'must start with https:// or http://' };
  if (url.username !== '' || url.password !== '') {
    return { ok: false, reason: 'must not carry user:password@ (it would be logged); use a secret setting' };
  }
  if (value.includes('?')) return { ok: false, reason: 'must not contain a query (?...); the template adds the parameters' };
  if (value.includes('#')) return { ok: false, reason: 'must not contain a fragment (#...)' };
  return { ok: true, value: url.href.replace(/\/+$/, '') };
}

/** A host name with an optional port, e.g. `track.example.com` or `localhost:8080`; returned lower-cased. */
export function checkHostSetting(value: string): ValueCheck {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) return { ok: false, reason: 'must be the host name only, without https://' };
  const match = /^([^:/]+)(?::([0-9]{1,5}))?$/.exec(value);
  const host = match?.[1]?.toLowerCase() ?? '';
  const port = match?.[2];
  const labelsOk = host.length <= 253 && host.split('.').every((label) => HOST_LABEL.test(label));
  if (!match || !labelsOk) return { ok: false, reason: 'is not a host name such as track.example.com (with an optional :port)' };
  if (port !== undefined && (Number(port) < 1 || Number(port) > 65_535)) return { ok: false, reason: 'has a port outside 1-65535' };
  return { ok: true, value: port === undefined ? host : `${host}:${port}` };
}
