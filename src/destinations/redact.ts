/**
 * The one place secrets are removed from a request or an answer before it is logged, traced or
 * stored. A secret can appear raw (headers, JSON), percent-encoded (path) or form-encoded (query
 * and form bodies), so every form is replaced.
 */
import type { RenderedRequest } from './render.js';
import type { Template } from './template.js';

const REDACTED = '<redacted>';
/** Redacted whole: Basic credentials are base64 of "user:secret", which no value search would find. */
const CREDENTIAL_HEADERS = new Set(['authorization', 'proxy-authorization']);

/** The values of the settings the template marks secret. */
export function secretSettingValues(template: Template, settings: Record<string, string>): string[] {
  const values: string[] = [];
  for (const spec of template.settings.values()) {
    const value = Object.hasOwn(settings, spec.name) ? settings[spec.name] : undefined;
    if (spec.secret && value) values.push(value);
  }
  return values;
}

export function redactRequest(secrets: readonly string[], request: RenderedRequest): RenderedRequest {
  const hide = (text: string) => redactText(secrets, text);
  const headers = Object.fromEntries(
    Object.entries(request.headers).map(([name, value]) => [name, CREDENTIAL_HEADERS.has(name.toLowerCase()) ? REDACTED : hide(value)]),
  );
  return {
    method: request.method,
    url: hide(request.url),
    headers,
    ...(request.body !== undefined && { body: hide(request.body) }),
  };
}

/** Any text that may hold a secret: a network can echo its API key in an error body. */
export function redactText(secrets: readonly string[], text: string): string {
  // Runs on every logged text of every postback: a text without the secret is returned as it is.
  let result = text;
  for (const form of secretForms(secrets)) {
    if (result.includes(form)) result = result.replaceAll(form, REDACTED);
  }
  return result;
}

/** A destination's list is fixed once bound: its encoded forms are worked out once, not per postback. */
const formsOf = new WeakMap<readonly string[], string[]>();

/** Each secret in every encoding it may take in a request, longest first so none is left half-hidden. */
function secretForms(secrets: readonly string[]): string[] {
  let known = formsOf.get(secrets);
  if (!known) formsOf.set(secrets, (known = encodedForms(secrets)));
  return known;
}

function encodedForms(secrets: readonly string[]): string[] {
  const forms = new Set<string>();
  for (const value of secrets) {
    if (value === '') continue;
    forms.add(value);
    forms.add(encodeURIComponent(value));
    forms.add(new URLSearchParams({ v: value }).toString().slice(2));
    forms.add(JSON.stringify(value).slice(1, -1));
  }
  return [...forms].filter((form) => form !== '').sort((a, b) => b.length - a.length);
}
