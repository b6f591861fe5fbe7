import { BadRequestError } from '../errors.js';
import type { Consent, ConsentState, ParamValue, RelayEvent } from '../events/event.js';

const MAX_ID_LENGTH = 256;
const MAX_URL_LENGTH = 4096;
const MAX_NAME_LENGTH = 100;
const EVENT_NAME = /^[A-Za-z0-9_.:-]+$/;
/** Items lists and the like nest two or three levels; deeper is not an event, and would break serialisation. */
const MAX_PARAM_DEPTH = 8;

/** Fields of the event that carry identifiers: strings, though tags often send numbers. */
const ID_FIELDS = ['client_id', 'user_id', 'transaction_id', 'click_id'] as const;
const URL_FIELDS = ['page_location', 'page_referrer'] as const;
/** Every name of EventFields: what is not a parameter. */
export const EVENT_FIELD_NAMES: ReadonlyArray<keyof EventFields> = [
  'event_name', 'value', 'currency', 'consent', 'gcs', 'gcd', 'ad_storage', 'analytics_storage',
  ...ID_FIELDS, ...URL_FIELDS,
];
const KNOWN = new Set<string>(EVENT_FIELD_NAMES);

/**
 * The fields an event is read from, under the event's own names; a client that parses its own
 * format fills one of these directly, without a record of every parameter first.
 */
export interface EventFields {
  event_name?: unknown;
  page_location?: unknown;
  page_referrer?: unknown;
  client_id?: unknown;
  user_id?: unknown;
  transaction_id?: unknown;
  click_id?: unknown;
  value?: unknown;
  currency?: unknown;
  consent?: unknown;
  gcs?: unknown;
  gcd?: unknown;
  ad_storage?: unknown;
  analytics_storage?: unknown;
}

/**
 * Turns a flat record of named fields (a JSON object, or query parameters after a client's own
 * renaming) into the event, rejecting mistyped fields with a message that names them.
 */
export function normalizeEvent(fields: Record<string, unknown>, where: string): RelayEvent {
  const event = eventOf(fields, {}, where);
  for (const key in fields) {
    const raw = fields[key];
    if (KNOWN.has(key) || raw === undefined) continue;
    if (depthOf(raw) > MAX_PARAM_DEPTH) throw mistyped(where, key, `nested at most ${MAX_PARAM_DEPTH} levels deep`);
    event.params[key] = raw as ParamValue;
  }
  return event;
}

/** The event from its fields and its other parameters (taken as they are), validating the fields. */
export function eventOf(fields: EventFields, params: Record<string, ParamValue>, where: string): RelayEvent {
  const eventName = fields.event_name ?? 'page_view';
  if (typeof eventName !== 'string' || eventName.length > MAX_NAME_LENGTH || !EVENT_NAME.test(eventName)) {
    throw mistyped(where, 'event_name', `a name of letters, digits and _ (at most ${MAX_NAME_LENGTH})`);
  }
  const event: RelayEvent = { event_name: eventName, params };
  for (const field of URL_FIELDS) {
    const v = optionalString(fields[field], where, field, MAX_URL_LENGTH);
    if (v !== undefined) event[field] = v;
  }
  for (const field of ID_FIELDS) {
    const v = optionalId(fields[field], where, field);
    if (v !== undefined) event[field] = v;
  }
  const value = optionalNumber(fields.value, where, 'value');
  if (value !== undefined) event.value = value;
  const currency = optionalString(fields.currency, where, 'currency', 8);
  if (currency !== undefined && currency !== '') event.currency = currency.toUpperCase();
  const consent = readConsent(fields, where);
  if (consent) event.consent = consent;
  return event;
}

function depthOf(value: unknown): number {
  if (value === null || typeof value !== 'object') return 0;
  let deepest = 0;
  for (const child of Object.values(value)) {
    deepest = Math.max(deepest, depthOf(child));
    if (deepest > MAX_PARAM_DEPTH) break;
  }
  return deepest + 1;
}

function mistyped(where: string, field: string, expected: string): BadRequestError {
  return new BadRequestError('RELAY_EVENT_INVALID', `${where}: "${field}" must be ${expected}`);
}

function optionalString(raw: unknown, where: string, field: string, max: number): string | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (typeof raw !== 'string') throw mistyped(where, field, 'a string');
  if (raw.length > max) throw mistyped(where, field, `at most ${max} characters`);
  return raw;
}

function optionalId(raw: unknown, where: string, field: string): string | undefined {
  if (raw === undefined || raw === null || raw === '') return undefined;
  if (typeof raw === 'number' && Number.isFinite(raw)) return String(raw);
  if (typeof raw !== 'string') throw mistyped(where, field, 'a string or a number');
  if (raw.length > MAX_ID_LENGTH) throw mistyped(where, field, `at most ${MAX_ID_LENGTH} characters`);
  return raw;
}

function optionalNumber(raw: unknown, where: string, field: string): number | undefined {
  if (raw === undefined || raw === null || raw === '') return undefined;
  const n = typeof raw === 'string' ? Number(raw.trim()) : raw;
  if (typeof n !== 'number' || !Number.isFinite(n)) throw mistyped(where, field, 'a number');
  return n;
}

function consentState(raw: unknown, where: string, field: string): ConsentState | undefined {
  if (raw === undefined || raw === null || raw === '') return undefined;
  if (raw === 'granted' || raw === 'denied') return raw;
  throw mistyped(where, field, '"granted" or "denied"');
}

/**
 * Consent arrives as GA4's `gcs` string (`G1` then ad_storage and analytics_storage as 1/0), or as
 * named states, at the top level or inside a `consent` object.
 */
function readConsent(fields: EventFields, where: string): Consent | undefined {
  const nested = fields.consent;
  if (nested !== undefined && (nested === null || typeof nested !== 'object' || Array.isArray(nested))) {
    throw mistyped(where, 'consent', 'an object such as {"ad_storage": "denied"}');
  }
  const inner = nested as Record<string, unknown> | undefined;
  // A state inside the `consent` object wins over the same one at the top level.
  const read = (name: 'gcs' | 'gcd' | 'ad_storage' | 'analytics_storage') => (inner?.[name] !== undefined ? inner[name] : fields[name]);
  const consent: Consent = {};
  const gcs = optionalString(read('gcs'), where, 'gcs', 16);
  if (gcs) {
    consent.gcs = gcs;
    if (/^G1[01][01]$/.test(gcs)) {
      consent.ad_storage = gcs[2] === '1' ? 'granted' : 'denied';
      consent.analytics_storage = gcs[3] === '1' ? 'granted' : 'denied';
    }
  }
  const gcd = optionalString(read('gcd'), where, 'gcd', 64);
  if (gcd) consent.gcd = gcd;
  const ad = consentState(read('ad_storage'), where, 'ad_storage');
  if (ad) consent.ad_storage = ad;
  const analytics = consentState(read('analytics_storage'), where, 'analytics_storage');
  if (analytics) consent.analytics_storage = analytics;
  return Object.keys(consent).length > 0 ? consent : undefined;
}
