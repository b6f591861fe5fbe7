/**
 * Compiling a schema-valid template file: every variable, filter and setting a string refers to,
 * the shape of the URL and every regex are checked before a conversion exists, so a bad template
 * stops startup instead of losing conversions later.
 */
import { z } from 'zod';
import {
  BUILTIN_VARIABLES,
  FILTERS,
  HEADER_NAME,
  IDENTIFIER,
  JsonConditionSchema,
  TRANSPORT_HEADERS,
  type BuiltinVariable,
  type FilterName,
  type JsonCondition,
  type JsonTemplate,
  type Placeholder,
  type Problem,
  type RequestAuth,
  type RequestBody,
  type RequestSignature,
  type ResponseRule,
  type SettingSpec,
  type SignaturePart,
  type StatusMatcher,
  type Template,
  type TemplateField,
  type TemplateFile,
  type TemplatePart,
  type TemplateString,
  type UrlOrigin,
  type UrlTemplate,
  type VariableRef,
} from './template.js';
import { didYouMean } from './suggest.js';

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
  const capture = compileCapture(source.kind, source.capture, problems);
  const request = compileRequest(source.request, scope);
  const response = source.response.map((rule, index) => compileRule(rule, `response[${index}]`, problems));
  if (problems.items.length > 0 || !capture || !request) return { ok: false, problems: problems.items };
  const { name, kind, verified, docs, retry } = source;
  const template: Template = { id, file, name, kind, verified, docs, capture, settings, request, response };
  if (retry) template.retry = { delaysSeconds: [...retry.delaysSeconds], maxAgeHours: retry.maxAgeHours };
  return { ok: true, template };
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

/** Matches nothing: a platform template without a capture block never stores a click. */
const NO_CLICK = /(?!)/u;

function compileCapture(kind: TemplateFile['kind'], capture: TemplateFile['capture'], problems: ProblemList): Template['capture'] | undefined {
  if (capture === undefined) {
    // An affiliate network pays on its click ID; without a capture block there would never be one.
    if (kind === 'affiliate') problems.add('capture', 'missing: an affiliate template says which landing parameters carry its click ID');
    return kind === 'affiliate' ? undefined : { params: [], pattern: NO_CLICK, maxLength: 256 };
  }
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
  const auth = compileAuth(request.auth, scope);
  const signature = request.signature && compileSignature(request.signature, body, scope);
  checkHeaderCollisions(headers, auth, signature, scope);
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
    auth,
    ...(signature && { signature }),
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

// ---------------------------------------------------------------------------------------------
// Authentication and signature

function compileAuth(auth: TemplateFile['request']['auth'], scope: Scope): RequestAuth {
  const at = 'request.auth';
  switch (auth.type) {
    case 'none':
      return auth;
    case 'basic':
      return {
        type: 'basic',
        // The user (impact's Account SID) is an identifier, not a secret; the password is.
        user: credential(auth.user, `${at}.user`, false, scope),
        password: credential(auth.password, `${at}.password`, true, scope),
      };
    case 'bearer':
      return { type: 'bearer', token: credential(auth.token, `${at}.token`, true, scope) };
    case 'header':
      checkHeaderName(auth.name, `${at}.name`, scope);
      return { type: 'header', name: auth.name, value: credential(auth.value, `${at}.value`, true, scope) };
    case 'query':
      if (/[{}]/.test(auth.param)) scope.problems.add(`${at}.param`, 'the parameter name is literal; placeholders go in value');
      return { type: 'query', param: auth.param, value: credential(auth.value, `${at}.value`, true, scope) };
  }
}

/**
 * A credential is a template string; a secret one must come from a `secret: true` setting, so that
 * it is redacted wherever the request is shown and never written into a template file.
 */
function credential(source: string, path: string, secret: boolean, scope: Scope): TemplateString {
  const before = scope.problems.items.length;
  const template = parseTemplateString(source, path, scope);
  // A placeholder that failed to parse was already reported; one message per mistake.
  if (!secret || scope.problems.items.length > before) return template;
  const usesSecret = template.parts.some(
    (part) => typeof part === 'object' && part.variable.source === 'settings' && scope.settings.get(part.variable.name)?.secret === true,
  );
  if (!usesSecret) {
    scope.problems.add(path, 'a credential must come from a setting declared secret: true, e.g. "{settings.api_key}", so it is never logged');
  }
  return template;
}

function compileSignature(signature: NonNullable<TemplateFile['request']['signature']>, body: RequestBody | undefined, scope: Scope): RequestSignature | undefined {
  const at = 'request.signature';
  checkHeaderName(signature.header, `${at}.header`, scope);
  if (signature.timestampHeader !== undefined) checkHeaderName(signature.timestampHeader, `${at}.timestampHeader`, scope);
  const secret = credential(signature.secret, `${at}.secret`, true, scope);
  const format = compileSignatureFormat(signature.format, `${at}.format`, scope);
  if (!body) scope.problems.add(at, 'a signature covers the body: use method: POST with a json or form body');
  if (format && signature.timestampHeader === undefined && !format.some((part) => typeof part === 'object' && part.token === 'timestamp')) {
    scope.problems.add(at, 'the receiver needs the signed timestamp: set timestampHeader, or put {timestamp} in format');
  }
  if (!format) return undefined;
  return {
    header: signature.header,
    ...(signature.timestampHeader !== undefined && { timestampHeader: signature.timestampHeader }),
    secret,
    algorithm: signature.algorithm,
    format,
  };
}

const SIGNATURE_TOKENS = ['hex', 'base64', 'timestamp'] as const;

/** `v1={hex}` or `t={timestamp},v1={hex}`: literal text with exactly one digest token. */
function compileSignatureFormat(source: string, path: string, scope: Scope): SignaturePart[] | undefined {
  const parts: SignaturePart[] = [];
  for (const piece of source.split(/(\{[^{}]*\})/)) {
    if (piece === '') continue;
    const token = /^\{([^{}]*)\}$/.exec(piece)?.[1];
    if (token === undefined) {
      parts.push(piece);
    } else if ((SIGNATURE_TOKENS as readonly string[]).includes(token)) {
      parts.push({ token: token as (typeof SIGNATURE_TOKENS)[number] });
    } else {
      scope.problems.add(path, `unknown signature token {${token}}${didYouMean(token, SIGNATURE_TOKENS, (s) => `{${s}}`)} Tokens: {hex}, {base64}, {timestamp}`);
      return undefined;
    }
  }
  const digests = parts.filter((part) => typeof part === 'object' && part.token !== 'timestamp').length;
  if (digests !== 1) {
    scope.problems.add(path, 'the format holds the digest exactly once, as {hex} or {base64}, e.g. "v1={hex}"');
    return undefined;
  }
  return parts;
}

function checkHeaderName(name: string, path: string, scope: Scope): void {
  if (!HEADER_NAME.test(name)) scope.problems.add(path, 'not a valid header name (letters, digits and -)');
  else if (TRANSPORT_HEADERS.has(name.toLowerCase())) scope.problems.add(path, 'set by the transport; choose another header');
}

/** Each header is set by one part of the template only; two sources for one header would overwrite each other silently. */
function checkHeaderCollisions(
  headers: Template['request']['headers'],
  auth: RequestAuth,
  signature: RequestSignature | undefined,
  scope: Scope,
): void {
  const owners = new Map<string, string>();
  const claim = (name: string, owner: string) => {
    const key = name.toLowerCase();
    const previous = owners.get(key);
    if (previous !== undefined) scope.problems.add(owner, `header ${name} is already set by ${previous}; set it in one place`);
    else owners.set(key, owner);
  };
  for (const header of headers) claim(header.name, `request.headers.${header.name}`);
  if (auth.type === 'basic' || auth.type === 'bearer') claim('Authorization', 'request.auth');
  if (auth.type === 'header') claim(auth.name, 'request.auth.name');
  if (signature) claim(signature.header, 'request.signature.header');
  if (signature?.timestampHeader !== undefined) claim(signature.timestampHeader, 'request.signature.timestampHeader');
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

/** Builtins the relay supplies rather than the event, so {event.now} is an ordinary parameter name. */
const RELAY_TIMES = new Set(['now', 'click_time', 'conversion_time']);

function resolveEventParamRef(name: string, path: string, scope: Scope): VariableRef | undefined {
  if ((BUILTIN_VARIABLES as readonly string[]).includes(name) && !RELAY_TIMES.has(name)) {
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
  const given = (['equals', 'notEquals', 'atLeast'] as const).filter((op) => json[op] !== undefined);
  if (given.length !== 1) {
    problems.add(path, 'give exactly one of equals, notEquals, atLeast');
    return undefined;
  }
  const segments = json.path.split('.');
  if (segments.some((segment) => segment === '')) {
    problems.add(`${path}.path`, 'a JSON path is dot-separated keys, e.g. data.status or errors.0.code');
    return undefined;
  }
  if (json.atLeast !== undefined) return { path: segments, op: 'atLeast', value: json.atLeast };
  const op = given[0] === 'equals' ? 'equals' : 'notEquals';
  return { path: segments, op, value: json[op] ?? null };
}
