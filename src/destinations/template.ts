/**
 * The destination-template format: the zod schema of a template file, and the compiled `Template`
 * that the renderer and classifier read (compile.ts turns one into the other).
 * templates/README.md is the reference for authors.
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

export const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;
// RFC 9110 §5.6.2 token characters.
export const HEADER_NAME = /^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/;
// The transport computes these; a template that sets them would produce a broken request.
export const TRANSPORT_HEADERS = new Set(['host', 'content-length', 'transfer-encoding', 'connection']);

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

export const JsonConditionSchema = z.strictObject({
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
