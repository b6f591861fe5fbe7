/**
 * The destination-template format: the zod schema of a template file, the placeholder language used
 * in its strings, and the compiled `Template` that the renderer and classifier read. Compiling checks
 * everything that can be checked before a conversion exists (every variable, filter and setting a
 * string refers to, the shape of the URL, every regex), so a bad template stops startup instead of
 * losing conversions later. templates/README.md is the reference for authors.
 */
import { z } from 'zod';
import { OUTCOMES, type Outcome } from './outcome.js';

// ---------------------------------------------------------------------------------------------
// Vocabulary

export const BUILTIN_VARIABLES = [
  'click_id',
  'transaction_id',
  'event_name',
  'value',
  'currency',
  'client_id',
  'user_id',
  'page_location',
  'now',
] as const;
export type BuiltinVariable = (typeof BUILTIN_VARIABLES)[number];

export const FILTERS = ['decimal2', 'cents', 'upper', 'lower', 'iso_time', 'unix_time', 'sha256'] as const;
export type FilterName = (typeof FILTERS)[number];

export const SETTING_TYPES = ['string', 'url', 'host'] as const;
export type SettingType = (typeof SETTING_TYPES)[number];

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;
// RFC 9110 §5.6.2 token characters.
const HEADER_NAME = /^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/;
// The transport computes these; a template that sets them would produce a broken request.
const TRANSPORT_HEADERS = new Set(['host', 'content-length', 'transfer-encoding', 'connection']);

// ---------------------------------------------------------------------------------------------
// File schema (what the YAML may contain)

const SettingSchema = z.strictObject({
  required: z.boolean().default(false),
  secret: z.boolean().default(false),
  type: z.enum(SETTING_TYPES).default('string'),
  pattern: z.string().min(1).optional(),
  default: z.union([z.string(), z.number()]).optional(),
  description: z.string().optional(),
});

const CaptureSchema = z.strictObject({
  params: z.array(z.string().min(1)).min(1),
  pattern: z.string().min(1),
  maxLength: z.number().int().min(1).max(4096).default(256),
});

const FieldValueSchema = z.union([z.string(), z.number(), z.boolean()], {
  error: 'expected a text value such as "{click_id}"; remove the field instead of leaving it empty',
});
const FieldMapSchema = z.record(z.string(), FieldValueSchema);

const RequestSchema = z.strictObject({
  method: z.enum(['GET', 'POST']).default('GET'),
  url: z.string({
    error: (issue) =>
      issue.input === undefined
        ? 'missing: give the postback endpoint, e.g. url: "https://{settings.domain}/postback"'
        : 'expected text such as "https://{settings.domain}/postback"',
  }),
  required: z.array(z.string()).default([]),
  query: FieldMapSchema.default({}),
  form: FieldMapSchema.optional(),
  json: z.json().optional(),
  headers: z.record(z.string(), z.union([z.string(), z.number()])).default({}),
  timeoutMs: z.number().int().min(100).max(60_000).default(8000),
});

const StatusItemSchema = z.union([z.number().int().min(100).max(599), z.string().regex(/^[1-5]([0-9][0-9]|xx)$/i)], {
  error: 'expected a status such as 404 or a class such as "5xx"',
});
const JsonScalarSchema = z.union([z.string(), z.number(), z.boolean(), z.null()]);

const JsonConditionSchema = z.strictObject({
  path: z.string().min(1),
  equals: JsonScalarSchema.optional(),
  notEquals: JsonScalarSchema.optional(),
});

const WhenSchema = z
  .strictObject({
    status: z.union([StatusItemSchema, z.array(StatusItemSchema).min(1)]).optional(),
    body: z.string().min(1).optional(),
    json: JsonConditionSchema.optional(),
  })
  .refine((when) => when.status !== undefined || when.body !== undefined || when.json !== undefined, {
    error: 'give at least one of status, body, json',
  });

const ResponseRuleSchema = z.strictObject({ when: WhenSchema, outcome: z.enum(OUTCOMES) });

export const TemplateFileSchema = z.strictObject({
  name: z.string().min(1),
  kind: z.enum(['affiliate', 'platform']),
  verified: z.boolean(),
  docs: z.array(z.string()).default([]),
  capture: CaptureSchema,
  settings: z.record(z.string(), SettingSchema).default({}),
  request: RequestSchema,
  response: z.array(ResponseRuleSchema).default([]),
});
export type TemplateFile = z.infer<typeof TemplateFileSchema>;

/** Every field name the format knows, for "did you mean" on a misspelt key. */
export const TEMPLATE_FIELD_NAMES: readonly string[] = [
  ...new Set(
    [TemplateFileSchema, CaptureSchema, SettingSchema, RequestSchema, ResponseRuleSchema, WhenSchema, JsonConditionSchema].flatMap(
      (schema) => Object.keys(schema.shape),
    ),
  ),
];

// ---------------------------------------------------------------------------------------------
// Compiled template

export type VariableRef =
  | { source: 'builtin'; name: BuiltinVariable }
  | { source: 'event'; name: string }
  | { source: 'settings'; name: string };

export interface Placeholder {
  /** As written, braces included, for messages. */
  text: string;
  variable: VariableRef;
  filters: FilterName[];
}

/** Literal text and placeholders, in order. */
export type TemplatePart = string | Placeholder;

export interface TemplateString {
  source: string;
  parts: TemplatePart[];
}

export interface TemplateField {
  /** Where the field is in the file, e.g. `request.query.click_id`, for messages. */
  path: string;
  key: TemplateString;
  value: TemplateString;
}

export type JsonTemplate =
  | { kind: 'literal'; value: string | number | boolean | null }
  | { kind: 'string'; path: string; template: TemplateString }
  | { kind: 'array'; items: JsonTemplate[] }
  | { kind: 'object'; entries: Array<[string, JsonTemplate]> };

/**
 * How the scheme and host are produced. They are the one part of a request substituted without
 * encoding, so they come only from a literal or from a setting whose type was validated.
 */
export type UrlOrigin =
  | { kind: 'literal'; origin: string }
  | { kind: 'url-setting'; setting: string }
  | { kind: 'host-setting'; scheme: 'http' | 'https'; setting: string };

export interface UrlTemplate {
  origin: UrlOrigin;
  /** Everything after the origin; each placeholder value is percent-encoded on its own. */
  path: TemplateString;
}

export type RequestBody = { kind: 'form'; fields: TemplateField[] } | { kind: 'json'; value: JsonTemplate };

export interface SettingSpec {
  name: string;
  required: boolean;
  secret: boolean;
  type: SettingType;
  /** Anchored: the whole value must match. */
  pattern?: RegExp;
  default?: string;
  description?: string;
}

export type StatusMatcher = { kind: 'exact'; code: number } | { kind: 'class'; digit: number };

export interface JsonCondition {
  path: string[];
  op: 'equals' | 'notEquals';
  value: string | number | boolean | null;
}

export interface ResponseRule {
  status?: StatusMatcher[];
  body?: RegExp;
  json?: JsonCondition;
  outcome: Outcome;
}

export interface Template {
  id: string;
  file: string;
  name: string;
  kind: 'affiliate' | 'platform';
  verified: boolean;
  docs: string[];
  capture: { params: string[]; pattern: RegExp; maxLength: number };
  settings: Map<string, SettingSpec>;
  request: {
    method: 'GET' | 'POST';
    url: UrlTemplate;
    query: TemplateField[];
    body?: RequestBody;
    headers: Array<{ name: string; value: TemplateString }>;
    /** Variables that must be present; for kind affiliate, click_id always is. */
    required: VariableRef[];
    timeoutMs: number;
  };
  response: ResponseRule[];
}

export interface Problem {
  /** Where in the file, e.g. `request.query.click_id`; empty for the file as a whole. */
  path: string;
  message: string;
}

// ---------------------------------------------------------------------------------------------
// Suggestions

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/** Edit distance, except that a word extending a candidate ("retrying" for "retry") counts as close. */
function nearness(word: string, candidate: string): number {
  const [a, b] = [word.toLowerCase(), candidate.toLowerCase()];
  const extends_ = Math.min(a.length, b.length) >= 3 && (a.startsWith(b) || b.startsWith(a));
  return extends_ ? 1 : editDistance(a, b);
}

/** The closest candidate (case-insensitive), or undefined when none is close. */
export function closestMatch(word: string, candidates: Iterable<string>): string | undefined {
  const limit = Math.max(2, Math.floor(word.length / 3));
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const distance = nearness(word, candidate);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return bestDistance <= limit ? best : undefined;
}

/** ` — did you mean X?` for the closest candidate, or an empty string. */
export function didYouMean(word: string, candidates: Iterable<string>, format = (s: string) => s): string {
  const match = closestMatch(word, candidates);
  return match === undefined ? '' : ` — did you mean ${format(match)}?`;
}

// ---------------------------------------------------------------------------------------------
// Compilation

class ProblemList {
  readonly items: Problem[] = [];
  add(path: string, message: string): void {
    this.items.push({ path, message });
  }
}

interface Scope {
  settings: Map<string, SettingSpec>;
  problems: ProblemList;
}

export type CompileResult = { ok: true; template: Template } | { ok: false; problems: Problem[] };

/** Checks and compiles a schema-valid template file; reports every problem found. */
export function compileTemplate(id: string, file: string, source: TemplateFile): CompileResult {
  const problems = new ProblemList();
  const settings = compileSettings(source.settings, problems);
  const scope: Scope = { settings, problems };
  const capture = compileCapture(source.capture, problems);
  const request = compileRequest(source.request, scope);
  const response = source.response.map((rule, index) => compileRule(rule, `response[${index}]`, problems));
  if (problems.items.length > 0 || !capture || !request) return { ok: false, problems: problems.items };
  const { name, kind, verified, docs } = source;
  return { ok: true, template: { id, file, name, kind, verified, docs, capture, settings, request, response } };
}

/** `^(?:source)$`, so an author who forgets the anchors does not get a substring match. */
function compileAnchoredPattern(source: string, path: string, problems: ProblemList): RegExp | undefined {
  try {
    return new RegExp(`^(?:${source})$`, 'u');
  } catch (error) {
    problems.add(path, `not a valid regular expression: ${(error as Error).message}`);
    return undefined;
  }
}

function compileCapture(capture: TemplateFile['capture'], problems: ProblemList): Template['capture'] | undefined {
  const pattern = compileAnchoredPattern(capture.pattern, 'capture.pattern', problems);
  return pattern && { params: capture.params, pattern, maxLength: capture.maxLength };
}

function compileSettings(settings: TemplateFile['settings'], problems: ProblemList): Map<string, SettingSpec> {
  const compiled = new Map<string, SettingSpec>();
  for (const [name, spec] of Object.entries(settings)) {
    const path = `settings.${name}`;
    if (!IDENTIFIER.test(name)) problems.add(path, 'a setting name uses letters, digits and _ only');
    if (spec.required && spec.default !== undefined) {
      problems.add(path, 'a required setting cannot have a default; drop one of the two');
    }
    if (spec.secret && spec.default !== undefined) problems.add(path, 'a secret setting cannot have a default');
    const pattern = spec.pattern === undefined ? undefined : compileAnchoredPattern(spec.pattern, `${path}.pattern`, problems);
    compiled.set(name, {
      name,
      required: spec.required,
      secret: spec.secret,
      type: spec.type,
      ...(pattern && { pattern }),
      ...(spec.default !== undefined && { default: String(spec.default) }),
      ...(spec.description !== undefined && { description: spec.description }),
    });
  }
  return compiled;
}

function compileRequest(request: TemplateFile['request'], scope: Scope): Template['request'] | undefined {
  const url = compileUrl(request.url, scope);
  const body = compileBody(request, scope);
  const headers = compileHeaders(request.headers, scope);
  const query = compileFields(request.query, 'request.query', scope);
  const required = request.required.map((name, index) =>
    resolveVariableName(name.replace(/^\{(.*)\}$/, '$1'), `request.required[${index}]`, scope),
  );
  if (!url || required.some((ref) => ref === undefined)) return undefined;
  return {
    method: request.method,
    url,
    query,
    ...(body && { body }),
    headers,
    required: required.filter((ref): ref is VariableRef => ref !== undefined),
    timeoutMs: request.timeoutMs,
  };
}

function compileBody(request: TemplateFile['request'], scope: Scope): RequestBody | undefined {
  const { form, json, method } = request;
  if (form === undefined && json === undefined) return undefined;
  if (form !== undefined && json !== undefined) {
    scope.problems.add('request', 'give either form or json as the body, not both');
    return undefined;
  }
  if (method === 'GET') {
    scope.problems.add('request', 'a GET request has no body: use method: POST, or move the fields to request.query');
    return undefined;
  }
  if (form !== undefined) return { kind: 'form', fields: compileFields(form, 'request.form', scope) };
  if (json === null || typeof json !== 'object') {
    scope.problems.add('request.json', 'the JSON body is an object or a list of fields');
    return undefined;
  }
  return { kind: 'json', value: compileJson(json, 'request.json', scope) };
}

function compileFields(fields: Record<string, string | number | boolean>, at: string, scope: Scope): TemplateField[] {
  return Object.entries(fields).map(([key, value]) => {
    const path = `${at}.${key}`;
    return { path, key: parseTemplateString(key, path, scope), value: parseTemplateString(String(value), path, scope) };
  });
}

function compileHeaders(headers: Record<string, string | number>, scope: Scope): Template['request']['headers'] {
  return Object.entries(headers).map(([name, value]) => {
    const path = `request.headers.${name}`;
    if (!HEADER_NAME.test(name)) scope.problems.add(path, 'not a valid header name (letters, digits and -)');
    if (TRANSPORT_HEADERS.has(name.toLowerCase())) scope.problems.add(path, 'set by the transport; remove it');
    return { name, value: parseTemplateString(String(value), path, scope) };
  });
}

function compileJson(value: z.core.util.JSONType, path: string, scope: Scope): JsonTemplate {
  if (typeof value === 'string') return { kind: 'string', path, template: parseTemplateString(value, path, scope) };
  if (Array.isArray(value)) {
    return { kind: 'array', items: value.map((item, index) => compileJson(item, `${path}[${index}]`, scope)) };
  }
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value).map(([key, item]): [string, JsonTemplate] => {
      if (/[{}]/.test(key)) scope.problems.add(`${path}.${key}`, 'JSON keys are literal; placeholders go in values');
      return [key, compileJson(item as z.core.util.JSONType, `${path}.${key}`, scope)];
    });
    return { kind: 'object', entries };
  }
  return { kind: 'literal', value };
}

// ---------------------------------------------------------------------------------------------
// URL

function compileUrl(source: string, scope: Scope): UrlTemplate | undefined {
  const path = 'request.url';
  const before = scope.problems.items.length;
  const template = parseTemplateString(source, path, scope);
  if (scope.problems.items.length > before) return undefined;
  if (template.parts.some((part) => typeof part === 'string' && /[?#]/.test(part))) {
    scope.problems.add(path, 'the URL has no query or fragment here: put query parameters under request.query');
    return undefined;
  }
  const [first, ...rest] = template.parts;
  const origin =
    typeof first === 'string' ? literalOrigin(first, rest, scope) : urlSettingOrigin(first, rest, scope);
  if (!origin) return undefined;
  return { origin: origin.origin, path: { source, parts: origin.pathParts } };
}

type OriginSplit = { origin: UrlOrigin; pathParts: TemplatePart[] };

function urlSettingOrigin(first: Placeholder | undefined, rest: TemplatePart[], scope: Scope): OriginSplit | undefined {
  const path = 'request.url';
  const spec = first?.variable.source === 'settings' ? scope.settings.get(first.variable.name) : undefined;
  if (!first || !spec || spec.type !== 'url' || first.filters.length > 0) {
    scope.problems.add(
      path,
      'a URL may start with a placeholder only when it is a {settings.NAME} declared type: url ' +
        '(validated as an absolute http(s) URL); otherwise write the scheme and host literally',
    );
    return undefined;
  }
  if (!pathFollowsOrigin(rest, scope) || !requireOriginSetting(spec, scope)) return undefined;
  return { origin: { kind: 'url-setting', setting: spec.name }, pathParts: rest };
}

function literalOrigin(first: string, rest: TemplatePart[], scope: Scope): OriginSplit | undefined {
  const path = 'request.url';
  const scheme = /^(https?):\/\//i.exec(first);
  if (!scheme) {
    scope.problems.add(path, 'must start with http:// or https://, or with a {settings.NAME} of type url');
    return undefined;
  }
  const afterScheme = first.slice(scheme[0].length);
  const schemeName = (scheme[1] ?? 'https').toLowerCase() as 'http' | 'https';
  if (afterScheme === '' && rest.length > 0) return hostSettingOrigin(schemeName, rest, scope);
  const slash = afterScheme.indexOf('/');
  if (slash < 0 && rest.length > 0) {
    scope.problems.add(path, 'a placeholder inside the host must be the whole host: a {settings.NAME} of type host');
    return undefined;
  }
  const authority = slash < 0 ? afterScheme : afterScheme.slice(0, slash);
  const origin = parseLiteralOrigin(`${schemeName}://${authority}`);
  if (!origin) {
    scope.problems.add(path, `"${schemeName}://${authority}" is not a valid origin (scheme://host[:port], no user:password@)`);
    return undefined;
  }
  const remainder = slash < 0 ? '' : afterScheme.slice(slash);
  return { origin: { kind: 'literal', origin }, pathParts: remainder === '' ? rest : [remainder, ...rest] };
}

function parseLiteralOrigin(text: string): string | undefined {
  try {
    const url = new URL(text);
    return url.username === '' && url.password === '' && url.pathname === '/' ? url.origin : undefined;
  } catch {
    return undefined;
  }
}

function hostSettingOrigin(scheme: 'http' | 'https', rest: TemplatePart[], scope: Scope): OriginSplit | undefined {
  const path = 'request.url';
  const [host, ...pathParts] = rest;
  if (!pathFollowsOrigin(pathParts, scope)) return undefined;
  const spec = typeof host === 'object' && host.variable.source === 'settings' ? scope.settings.get(host.variable.name) : undefined;
  if (!spec || spec.type !== 'host' || (typeof host === 'object' && host.filters.length > 0)) {
    scope.problems.add(path, 'a placeholder right after the scheme must be a {settings.NAME} declared type: host');
    return undefined;
  }
  if (!requireOriginSetting(spec, scope)) return undefined;
  return { origin: { kind: 'host-setting', scheme, setting: spec.name }, pathParts };
}

/** The origin placeholder ends the URL or is followed by a "/", so nothing can extend the host. */
function pathFollowsOrigin(pathParts: TemplatePart[], scope: Scope): boolean {
  const next = pathParts[0];
  if (next === undefined || (typeof next === 'string' && next.startsWith('/'))) return true;
  scope.problems.add(
    'request.url',
    'a placeholder in the host must be the whole host or URL, followed by "/" or the end: ' +
      'write https://{settings.domain}/path with a type: host setting holding the full host name',
  );
  return false;
}

function requireOriginSetting(spec: SettingSpec, scope: Scope): boolean {
  if (spec.required || spec.default !== undefined) return true;
  scope.problems.add(`settings.${spec.name}`, 'the URL starts with this setting, so it must be required: true');
  return false;
}

// ---------------------------------------------------------------------------------------------
// Placeholder language: "{name|filter|filter}"

/** Splits text into literal parts and checked placeholders; problems are reported under `path`. */
function parseTemplateString(source: string, path: string, scope: Scope): TemplateString {
  const parts: TemplatePart[] = [];
  let literal = '';
  let index = 0;
  while (index < source.length) {
    const char = source.charAt(index);
    if (char === '}') {
      scope.problems.add(path, `"}" at position ${index + 1} closes nothing; placeholders look like {click_id}`);
      index++;
    } else if (char !== '{') {
      literal += char;
      index++;
    } else {
      const end = placeholderEnd(source, index, path, scope);
      if (end === undefined) break;
      if (literal !== '') parts.push(literal);
      literal = '';
      const placeholder = end.valid ? parsePlaceholder(source.slice(index, end.index + 1), path, scope) : undefined;
      if (placeholder) parts.push(placeholder);
      index = end.index + 1;
    }
  }
  if (literal !== '') parts.push(literal);
  return { source, parts };
}

/**
 * Where the placeholder opened at `start` ends; `valid: false` when it was reported and is to be
 * skipped, undefined when the rest of the string cannot be read.
 */
function placeholderEnd(source: string, start: number, path: string, scope: Scope): { index: number; valid: boolean } | undefined {
  if (source.charAt(start + 1) === '{') {
    const close = source.indexOf('}}', start);
    const inner = close < 0 ? source.slice(start + 2) : source.slice(start + 2, close);
    scope.problems.add(path, `"{{${inner}}}" uses double braces; placeholders take single braces: {${inner.trim()}}`);
    return close < 0 ? undefined : { index: close + 1, valid: false };
  }
  const close = source.indexOf('}', start);
  const nested = source.indexOf('{', start + 1);
  if (close < 0 || (nested >= 0 && nested < close)) {
    scope.problems.add(path, `"{" at position ${start + 1} is never closed; placeholders look like {click_id}`);
    return undefined;
  }
  return { index: close, valid: true };
}

function parsePlaceholder(text: string, path: string, scope: Scope): Placeholder | undefined {
  const [name = '', ...filterNames] = text.slice(1, -1).split('|').map((piece) => piece.trim());
  const variable = resolveVariableName(name, path, scope);
  const filters = filterNames.map((filter) => checkFilter(filter, text, path, scope));
  if (!variable || filters.some((filter) => filter === undefined)) return undefined;
  return { text, variable, filters: filters as FilterName[] };
}

function checkFilter(filter: string, text: string, path: string, scope: Scope): FilterName | undefined {
  if ((FILTERS as readonly string[]).includes(filter)) return filter as FilterName;
  scope.problems.add(
    path,
    `unknown filter "${filter}" in ${text}${didYouMean(filter, FILTERS)} Filters: ${FILTERS.join(', ')}`,
  );
  return undefined;
}

const VARIABLE_LIST = `${BUILTIN_VARIABLES.map((name) => `{${name}}`).join(', ')}, {event.NAME}, {settings.NAME}`;

function resolveVariableName(name: string, path: string, scope: Scope): VariableRef | undefined {
  const [head, tail, ...extra] = name.split('.');
  if (tail !== undefined && extra.length === 0 && IDENTIFIER.test(tail)) {
    if (head === 'settings') return resolveSettingRef(tail, path, scope);
    if (head === 'event') return resolveEventParamRef(tail, path, scope);
  }
  if ((BUILTIN_VARIABLES as readonly string[]).includes(name)) {
    return { source: 'builtin', name: name as BuiltinVariable };
  }
  const suggestion = scope.settings.has(name)
    ? ` — did you mean {settings.${name}}?`
    : didYouMean(name, [...BUILTIN_VARIABLES, ...[...scope.settings.keys()].map((s) => `settings.${s}`)], (s) => `{${s}}`);
  scope.problems.add(path, `{${name}} is not a known variable${suggestion} Variables: ${VARIABLE_LIST}`);
  return undefined;
}

function resolveSettingRef(name: string, path: string, scope: Scope): VariableRef | undefined {
  if (scope.settings.has(name)) return { source: 'settings', name };
  const declared = [...scope.settings.keys()];
  const suggestion = didYouMean(name, declared, (s) => `{settings.${s}}`);
  const list = declared.length > 0 ? ` Declared settings: ${declared.join(', ')}` : ' The template declares no settings.';
  scope.problems.add(path, `{settings.${name}} refers to a setting the template does not declare${suggestion}${list}`);
  return undefined;
}

function resolveEventParamRef(name: string, path: string, scope: Scope): VariableRef | undefined {
  if ((BUILTIN_VARIABLES as readonly string[]).includes(name) && name !== 'now') {
    scope.problems.add(path, `{event.${name}}: ${name} is a top-level event field; write {${name}}`);
    return undefined;
  }
  return { source: 'event', name };
}

// ---------------------------------------------------------------------------------------------
// Response rules

function compileRule(rule: TemplateFile['response'][number], path: string, problems: ProblemList): ResponseRule {
  const { status, body, json } = rule.when;
  const compiled: ResponseRule = { outcome: rule.outcome };
  if (status !== undefined) compiled.status = (Array.isArray(status) ? status : [status]).map(compileStatus);
  if (body !== undefined) {
    const regex = compileBodyPattern(body, `${path}.when.body`, problems);
    if (regex) compiled.body = regex;
  }
  if (json !== undefined) {
    const condition = compileJsonCondition(json, `${path}.when.json`, problems);
    if (condition) compiled.json = condition;
  }
  return compiled;
}

function compileStatus(item: number | string): StatusMatcher {
  const text = String(item).toLowerCase();
  return text.endsWith('xx') ? { kind: 'class', digit: Number(text.charAt(0)) } : { kind: 'exact', code: Number(text) };
}

function compileBodyPattern(source: string, path: string, problems: ProblemList): RegExp | undefined {
  if (source.startsWith('(?i)')) {
    problems.add(path, 'body patterns already match case-insensitively; remove the "(?i)" prefix');
    return undefined;
  }
  try {
    return new RegExp(source, 'iu');
  } catch (error) {
    problems.add(path, `not a valid regular expression: ${(error as Error).message}`);
    return undefined;
  }
}

function compileJsonCondition(
  json: z.infer<typeof JsonConditionSchema>,
  path: string,
  problems: ProblemList,
): JsonCondition | undefined {
  const hasEquals = json.equals !== undefined;
  const hasNotEquals = json.notEquals !== undefined;
  if (hasEquals === hasNotEquals) {
    problems.add(path, 'give exactly one of equals or notEquals');
    return undefined;
  }
  const segments = json.path.split('.');
  if (segments.some((segment) => segment === '')) {
    problems.add(`${path}.path`, 'a JSON path is dot-separated keys, e.g. data.status or errors.0.code');
    return undefined;
  }
  const value = (hasEquals ? json.equals : json.notEquals) ?? null;
  return { path: segments, op: hasEquals ? 'equals' : 'notEquals', value };
}
