/**
 * Turns a template, a conversion event and a destination's settings into the exact HTTP request to
 * send. Every substituted value is encoded for where it lands: query and form fields through
 * URLSearchParams, path placeholders one by one with encodeURIComponent, JSON through
 * JSON.stringify. The only raw substitution is the scheme and host, taken from a literal or from a
 * `type: url` / `type: host` setting validated by resolveSettings and checked again here. There is
 * no raw mode.
 */
import { createHash, createHmac } from 'node:crypto';
import { RelayError } from '../errors.js';
import type { ParamValue, RelayEvent } from '../events/event.js';
import { placeholderReason } from '../events/macro.js';
import { checkHostSetting, checkUrlSetting, embeddedPlaceholderReason } from './settings.js';
import type {
  BuiltinVariable,
  FilterName,
  JsonTemplate,
  Placeholder,
  RequestSignature,
  Template,
  TemplateField,
  TemplateString,
  UrlOrigin,
  VariableRef,
} from './template.js';

/** The request cannot be built from this event; sending it anyway would lose the conversion. */
export class RenderError extends RelayError {
  constructor(message: string) {
    super('RELAY_TEMPLATE_RENDER', message, 500);
  }
}

export interface RenderInput {
  event: RelayEvent;
  clickId: string;
  /** The output of resolveSettings. */
  settings: Record<string, string>;
  now?: Date;
  /**
   * When the click was captured, in epoch milliseconds: `{click_time}`. Absent for a click ID the
   * site passed explicitly, when `{click_time}` falls back to the render time.
   */
  clickCapturedAt?: number;
  /**
   * When the relay accepted the conversion, in epoch milliseconds: `{conversion_time}`. A retry
   * hours later still reports when the sale happened. Falls back to the render time.
   */
  conversionAt?: number;
}

export interface RenderedRequest {
  method: 'GET' | 'POST';
  url: string;
  headers: Record<string, string>;
  body?: string;
}

/** A variable's value: event parameters may be lists or objects, which JSON bodies keep as they are. */
type Scalar = string | number | boolean | Date | ParamValue[] | { [key: string]: ParamValue };

interface Context {
  template: Template;
  input: RenderInput;
  now: Date;
}

/**
 * Identifiers get the whole macro guard: "null", "0" or "TRANSACTION_ID" is a broken data layer,
 * not a real ID. Free-text values only get its placeholder-syntax checks.
 */
const IDENTIFIERS = new Set<BuiltinVariable>(['click_id', 'transaction_id', 'client_id', 'user_id']);
const EVENT_FIELDS = new Set<BuiltinVariable>(['transaction_id', 'event_name', 'currency', 'client_id', 'user_id', 'page_location']);
const SECRET = '<secret>';

export function renderPostback(template: Template, input: RenderInput): RenderedRequest {
  const context: Context = { template, input, now: input.now ?? new Date() };
  checkRequired(context);
  const url = renderUrl(context);
  const fields = renderFields(template.request.query, context);
  if (fields.length > 0) {
    // Set on a detached copy and written back once: URL.searchParams re-serializes the whole query
    // into the URL on every set.
    const query = new URLSearchParams(url.search);
    for (const [key, value] of fields) query.set(key, value);
    url.search = query.toString();
  }
  if (template.request.auth.type === 'query') setAuthParam(url, context);
  const headers = renderHeaders(context);
  const body = renderBody(context, headers);
  addAuthHeader(headers, context);
  if (template.request.signature) addSignature(template.request.signature, body ?? '', headers, context);
  return { method: template.request.method, url: url.href, headers, ...(body !== undefined && { body }) };
}

function fail(context: Context, path: string, message: string): never {
  throw new RenderError(`template ${context.template.id}: ${path}: ${message}`);
}

// ---------------------------------------------------------------------------------------------
// Variables

function checkRequired(context: Context): void {
  const { template } = context;
  const required: VariableRef[] = [...template.request.required];
  if (template.kind === 'affiliate') required.unshift({ source: 'builtin', name: 'click_id' });
  for (const ref of required) {
    if (variableValue(ref, context, 'request.required') === undefined) {
      fail(context, 'request.required', `required variable {${variableLabel(ref)}} is missing: ${missingExplanation(ref)}`);
    }
  }
}

function variableLabel(ref: VariableRef): string {
  return ref.source === 'builtin' ? ref.name : `${ref.source}.${ref.name}`;
}

function missingExplanation(ref: VariableRef): string {
  if (ref.source === 'settings') return `the destination's setting ${ref.name} is not set`;
  if (ref.source === 'event') return `the event has no parameter ${ref.name}`;
  if (ref.name === 'click_id') return 'no click ID was found for this conversion';
  return `the event has no ${ref.name}`;
}

/** The variable's value, or undefined when absent or empty; event values pass the macro guard. */
function variableValue(ref: VariableRef, context: Context, path: string): Scalar | undefined {
  if (ref.source === 'settings') {
    const { settings } = context.input;
    return Object.hasOwn(settings, ref.name) ? nonEmpty(settings[ref.name]) : undefined;
  }
  if (ref.source === 'event') {
    const { params } = context.input.event;
    const value = Object.hasOwn(params, ref.name) ? fromParam(params[ref.name]) : undefined;
    return guarded(value, `event.${ref.name}`, false, context, path);
  }
  return guarded(builtinValue(ref.name, context), ref.name, IDENTIFIERS.has(ref.name), context, path);
}

function builtinValue(name: BuiltinVariable, context: Context): Scalar | undefined {
  const { event, clickId } = context.input;
  if (name === 'now') return context.now;
  if (name === 'click_time') return epochOrNow(context.input.clickCapturedAt, context);
  if (name === 'conversion_time') return epochOrNow(context.input.conversionAt, context);
  if (name === 'click_id') return nonEmpty(clickId);
  if (name === 'value') return typeof event.value === 'number' && Number.isFinite(event.value) ? event.value : undefined;
  return EVENT_FIELDS.has(name) ? nonEmpty(event[name as Exclude<BuiltinVariable, 'now' | 'click_id' | 'value' | 'click_time' | 'conversion_time'>]) : undefined;
}

/** Epoch milliseconds, or the render time when the caller had none to give. */
function epochOrNow(ms: number | undefined, context: Context): number {
  return typeof ms === 'number' && Number.isFinite(ms) && ms > 0 ? Math.floor(ms) : context.now.getTime();
}

function fromParam(value: ParamValue | undefined): Scalar | undefined {
  if (value === null || value === undefined) return undefined;
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  return typeof value === 'string' ? nonEmpty(value) : value;
}

/** Every string inside a value, so a list or object is guarded leaf by leaf (its own braces are not macros). */
function stringLeaves(value: Scalar | ParamValue): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.flatMap(stringLeaves);
  if (value !== null && typeof value === 'object' && !(value instanceof Date)) return Object.values(value).flatMap(stringLeaves);
  return [];
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value;
}

function guarded(value: Scalar | undefined, label: string, identifier: boolean, context: Context, path: string) {
  if (value === undefined) return value;
  for (const text of stringLeaves(value)) {
    const reason = identifier ? placeholderReason(text) : embeddedPlaceholderReason(text);
    if (reason !== undefined) fail(context, path, `${label} ${reason}`);
  }
  return value;
}

// ---------------------------------------------------------------------------------------------
// Filters

/** Thrown by a filter that cannot use its input; turned into a RenderError with the context. */
class FilterInputError extends Error {}

const FILTER_FUNCTIONS: Record<FilterName, (value: Scalar) => Scalar> = {
  decimal2: (value) => (minorUnits(value) / 100).toFixed(2),
  cents: (value) => minorUnits(value),
  upper: (value) => stringify(value).toUpperCase(),
  lower: (value) => stringify(value).toLowerCase(),
  iso_time: (value) => toDate(value).toISOString(),
  unix_time: (value) => Math.floor(toDate(value).getTime() / 1000),
  unix_ms: (value) => toDate(value).getTime(),
  unix_micros: (value) => toDate(value).getTime() * 1000,
  yyyymmdd_hhmm: (value) => toDate(value).toISOString().replace(/^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}).*$/, '$1$2$3_$4$5'),
  sha256: (value) => sha256Hex(stringify(value).trim().toLowerCase()),
  sha256_email: (value) => hashOnce(stringify(value).trim().toLowerCase(), (text) => text),
  sha256_phone: (value) => hashOnce(stringify(value), (text) => phoneDigits(text)),
  sha256_phone_e164: (value) => hashOnce(stringify(value), (text) => `+${phoneDigits(text)}`),
};

function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

const SHA256_HEX = /^[0-9a-f]{64}$/i;

/**
 * Normalises then hashes, leaving a value that is already a SHA-256 hex digest as it is (lower-
 * cased): a site that hashes in the browser must not have its hash hashed again, which no
 * platform could match.
 */
function hashOnce(text: string, normalise: (text: string) => string): string {
  const trimmed = text.trim();
  if (SHA256_HEX.test(trimmed)) return trimmed.toLowerCase();
  const normalised = normalise(trimmed);
  if (normalised === '') throw new FilterInputError('needs a non-empty value');
  return sha256Hex(normalised);
}

/**
 * Digits only, without the leading zeros of a "00" international prefix: Meta asks for the
 * country code and number with "symbols, letters, and any leading zeros" removed. A national
 * number without its country code cannot be fixed here; the site must send it with one.
 */
function phoneDigits(text: string): string {
  // "(0)" is the UK-style trunk prefix written inside an international number: +44 (0)20 ...
  const digits = text.replace(/\(0\)/g, '').replace(/[^0-9]/g, '').replace(/^0+/, '');
  if (digits.length < 7 || digits.length > 15) throw new FilterInputError('needs a phone number with country code (7 to 15 digits, E.164)');
  return digits;
}

/** Amount × 100, rounded half away from zero on the decimal text, so 1.005 gives 101 and not 100. */
function minorUnits(value: Scalar): number {
  const amount = toAmount(value);
  const magnitude = Math.abs(amount);
  const text = String(magnitude);
  const cents = text.includes('e') ? Math.round(magnitude * 100) : Math.round(Number(`${text}e2`));
  return amount < 0 ? -cents : cents;
}

function toAmount(value: Scalar): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'string' && /^\s*-?[0-9]+(\.[0-9]+)?\s*$/.test(value)) return Number(value);
  throw new FilterInputError('needs a number');
}

/** Dates, ISO strings, or Unix times in seconds (below 10^11) or milliseconds. */
function toDate(value: Scalar): Date {
  let date: Date;
  if (value instanceof Date) date = value;
  else if (typeof value === 'number' || /^[0-9]+$/.test(String(value))) {
    const number = Number(value);
    date = new Date(number < 1e11 ? number * 1000 : number);
  } else date = new Date(String(value));
  if (Number.isNaN(date.getTime())) throw new FilterInputError('needs a date or a Unix time');
  return date;
}

/** Lists and objects become their JSON text: the one unambiguous way to put them in a text field. */
function stringify(value: Scalar): string {
  if (value instanceof Date) return value.toISOString();
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
}

// ---------------------------------------------------------------------------------------------
// Placeholders and template strings

/** The placeholder's value after its filters, or undefined when its variable is absent. */
function placeholderValue(placeholder: Placeholder, context: Context, path: string): Scalar | undefined {
  let value = variableValue(placeholder.variable, context, path);
  if (value === undefined) return undefined;
  for (const filter of placeholder.filters) {
    try {
      value = FILTER_FUNCTIONS[filter](value);
    } catch (error) {
      if (!(error instanceof FilterInputError)) throw error;
      fail(context, path, `${placeholder.text} ${error.message}, but the value is ${shownValue(placeholder, value, context)}`);
    }
  }
  return value;
}

function shownValue(placeholder: Placeholder, value: Scalar, context: Context): string {
  const { variable } = placeholder;
  const secret = variable.source === 'settings' && context.template.settings.get(variable.name)?.secret;
  return secret ? SECRET : JSON.stringify(stringify(value));
}

type RenderedText = { ok: true; text: string } | { ok: false; missing: Placeholder };

function renderText(
  template: TemplateString,
  context: Context,
  path: string,
  encode: (value: string) => string = (value) => value,
): RenderedText {
  let text = '';
  for (const part of template.parts) {
    if (typeof part === 'string') {
      text += part;
      continue;
    }
    const value = placeholderValue(part, context, path);
    if (value === undefined) return { ok: false, missing: part };
    text += encode(stringify(value));
  }
  return { ok: true, text };
}

// ---------------------------------------------------------------------------------------------
// URL

function renderUrl(context: Context): URL {
  const { origin, path } = context.template.request.url;
  const base = renderOrigin(origin, context);
  const rendered = renderText(path, context, 'request.url', encodeURIComponent);
  if (!rendered.ok) fail(context, 'request.url', `${rendered.missing.text} is needed in the URL but is missing`);
  if (rendered.text.split('/').some((segment) => /^(\.|%2e){1,2}$/i.test(segment))) {
    fail(context, 'request.url', 'a value would make a "." or ".." path segment, which would change the path');
  }
  const url = new URL(base + rendered.text);
  // Belt and braces: encoded values cannot reach the host, and this proves it for every request.
  if (url.origin !== new URL(base).origin) fail(context, 'request.url', 'the rendered URL changed its host');
  return url;
}

function renderOrigin(origin: UrlOrigin, context: Context): string {
  if (origin.kind === 'literal') return origin.origin;
  const value = context.input.settings[origin.setting] ?? '';
  const checked = origin.kind === 'url-setting' ? checkUrlSetting(value) : checkHostSetting(value);
  if (!checked.ok) {
    const shown = context.template.settings.get(origin.setting)?.secret ? SECRET : JSON.stringify(value);
    fail(context, 'request.url', `setting ${origin.setting} ${shown} ${checked.reason}`);
  }
  return origin.kind === 'url-setting' ? checked.value : `${origin.scheme}://${checked.value}`;
}

// ---------------------------------------------------------------------------------------------
// Query and form fields

/** Key/value pairs in template order; a field with a missing or empty key or value is left out. */
function renderFields(fields: TemplateField[], context: Context): Array<[string, string]> {
  const pairs: Array<[string, string]> = [];
  const seen = new Set<string>();
  for (const field of fields) {
    const key = renderText(field.key, context, field.path);
    const value = renderText(field.value, context, field.path);
    if (!key.ok || !value.ok || key.text === '' || value.text === '') continue;
    if (seen.has(key.text)) fail(context, field.path, `parameter "${key.text}" would be sent twice; give each field its own name`);
    seen.add(key.text);
    pairs.push([key.text, value.text]);
  }
  return pairs;
}

// ---------------------------------------------------------------------------------------------
// Headers and body

function renderHeaders(context: Context): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const header of context.template.request.headers) {
    const path = `request.headers.${header.name}`;
    const value = renderText(header.value, context, path);
    if (!value.ok || value.text === '') continue;
    // A line break in a header value would let a value add headers of its own.
    if (/[\r\n\0]/.test(value.text)) fail(context, path, 'the value contains a line break or NUL, which a header cannot carry');
    headers[header.name] = value.text;
  }
  return headers;
}

// ---------------------------------------------------------------------------------------------
// Authentication and signature

/** A credential that renders empty fails the render: the request would only be refused. */
function credentialText(template: TemplateString, path: string, context: Context): string {
  const rendered = renderText(template, context, path);
  if (!rendered.ok) fail(context, path, `${rendered.missing.text} is needed to authenticate but is missing`);
  if (rendered.text === '') fail(context, path, 'the credential is empty');
  if (/[\r\n\0]/.test(rendered.text)) fail(context, path, 'the credential contains a line break or NUL');
  return rendered.text;
}

function setAuthParam(url: URL, context: Context): void {
  const { auth } = context.template.request;
  if (auth.type !== 'query') return;
  if (url.searchParams.has(auth.param)) fail(context, 'request.auth.param', `parameter "${auth.param}" is also in request.query; keep one`);
  url.searchParams.set(auth.param, credentialText(auth.value, 'request.auth.value', context));
}

function addAuthHeader(headers: Record<string, string>, context: Context): void {
  const { auth } = context.template.request;
  if (auth.type === 'basic') {
    const user = credentialText(auth.user, 'request.auth.user', context);
    const password = credentialText(auth.password, 'request.auth.password', context);
    // RFC 7617 §2: the user-id cannot contain a colon, which separates it from the password.
    if (user.includes(':')) fail(context, 'request.auth.user', 'a Basic auth user cannot contain ":"');
    headers.Authorization = `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`;
  } else if (auth.type === 'bearer') {
    headers.Authorization = `Bearer ${credentialText(auth.token, 'request.auth.token', context)}`;
  } else if (auth.type === 'header') {
    headers[auth.name] = credentialText(auth.value, 'request.auth.value', context);
  }
}

/** HMAC of `${unix seconds}.${body}`, keyed with the rendered secret; see RequestSignature. */
function addSignature(signature: RequestSignature, body: string, headers: Record<string, string>, context: Context): void {
  const key = credentialText(signature.secret, 'request.signature.secret', context);
  const timestamp = String(Math.floor(context.now.getTime() / 1000));
  const mac = createHmac(signature.algorithm, key).update(`${timestamp}.${body}`, 'utf8');
  const digest = mac.digest();
  const tokens = { hex: digest.toString('hex'), base64: digest.toString('base64'), timestamp };
  headers[signature.header] = signature.format.map((part) => (typeof part === 'string' ? part : tokens[part.token])).join('');
  if (signature.timestampHeader !== undefined) headers[signature.timestampHeader] = timestamp;
}

function renderBody(context: Context, headers: Record<string, string>): string | undefined {
  const body = context.template.request.body;
  if (!body) return undefined;
  const hasContentType = Object.keys(headers).some((name) => name.toLowerCase() === 'content-type');
  if (body.kind === 'form') {
    if (!hasContentType) headers['Content-Type'] = 'application/x-www-form-urlencoded';
    return new URLSearchParams(renderFields(body.fields, context)).toString();
  }
  if (!hasContentType) headers['Content-Type'] = 'application/json';
  const value = renderJson(body.value, context);
  return JSON.stringify(value === OMITTED ? {} : value);
}

const OMITTED = Symbol('omitted');

/**
 * A string that is exactly one placeholder keeps its type, so `amount: "{value}"` sends a number;
 * a string mixing text and placeholders is text. Missing or empty values leave the field out, and
 * a list or object emptied that way is left out too (`"page": {}` is noise some APIs refuse); one
 * written empty in the template is kept.
 */
function renderJson(node: JsonTemplate, context: Context): unknown {
  switch (node.kind) {
    case 'literal':
      return node.value;
    case 'array': {
      const items = node.items.map((item) => renderJson(item, context)).filter((item) => item !== OMITTED);
      return items.length === 0 && node.items.length > 0 ? OMITTED : items;
    }
    case 'object': {
      const entries = node.entries
        .map(([key, item]): [string, unknown] => [key, renderJson(item, context)])
        .filter(([, item]) => item !== OMITTED);
      return entries.length === 0 && node.entries.length > 0 ? OMITTED : Object.fromEntries(entries);
    }
    case 'string':
      return renderJsonString(node.template, node.path, context);
  }
}

function renderJsonString(template: TemplateString, path: string, context: Context): unknown {
  const [only] = template.parts;
  if (template.parts.length === 1 && typeof only === 'object') {
    const value = placeholderValue(only, context, path);
    if (value === undefined || value === '') return OMITTED;
    return value instanceof Date ? value.toISOString() : value;
  }
  const rendered = renderText(template, context, path);
  return rendered.ok && rendered.text !== '' ? rendered.text : OMITTED;
}
