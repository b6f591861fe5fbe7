/**
 * The destination-template format: the zod schema of a template file, and the compiled `Template`
 * that the renderer and classifier read (compile.ts turns one into the other).
 * templates/README.md is the reference for authors.
 */
import { z } from 'zod';
import { OUTCOMES, type Outcome } from './outcome.js';
import { didYouMean } from './suggest.js';

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
  'click_time',
  'conversion_time',
] as const;
export type BuiltinVariable = (typeof BUILTIN_VARIABLES)[number];

export const FILTERS = [
  'decimal2',
  'cents',
  'upper',
  'lower',
  'iso_time',
  'unix_time',
  'unix_ms',
  'unix_micros',
  'yyyymmdd_hhmm',
  'sha256',
  'sha256_email',
  'sha256_phone',
  'sha256_phone_e164',
] as const;
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

const AuthSchema = z.discriminatedUnion(
  'type',
  [
    z.strictObject({ type: z.literal('none') }),
    z.strictObject({ type: z.literal('basic'), user: z.string().min(1), password: z.string().min(1) }),
    z.strictObject({ type: z.literal('bearer'), token: z.string().min(1) }),
    z.strictObject({ type: z.literal('header'), name: z.string().min(1), value: z.string().min(1) }),
    z.strictObject({ type: z.literal('query'), param: z.string().min(1), value: z.string().min(1) }),
  ],
  { error: (issue) => authTypeMessage(issue.input) },
);

const AUTH_TYPES = ['none', 'basic', 'bearer', 'header', 'query'];

function authTypeMessage(input: unknown): string {
  const type = input !== null && typeof input === 'object' ? (input as Record<string, unknown>).type : undefined;
  if (type === undefined) return `missing: auth.type, one of ${AUTH_TYPES.join(', ')}`;
  return `${JSON.stringify(type)} is not an auth type; use one of ${AUTH_TYPES.join(', ')}${didYouMean(String(type), AUTH_TYPES)}`;
}

export const SIGNATURE_ALGORITHMS = ['sha256', 'sha512'] as const;

const SignatureSchema = z.strictObject({
  header: z.string().min(1),
  timestampHeader: z.string().min(1).optional(),
  secret: z.string({
    error: (issue) =>
      issue.input === undefined ? 'missing: the HMAC key, e.g. secret: "{settings.signing_secret}"' : 'expected text',
  }),
  algorithm: z.enum(SIGNATURE_ALGORITHMS).default('sha256'),
  format: z.string().min(1).default('{hex}'),
});

const RetrySchema = z.strictObject({
  delaysSeconds: z.array(z.number().positive()).min(1, 'give at least one delay in seconds, e.g. [30, 120, 600, 3600]').max(50),
  maxAgeHours: z.number().positive().max(24 * 400),
});

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
  auth: AuthSchema.default({ type: 'none' }),
  signature: SignatureSchema.optional(),
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
  atLeast: z.number().optional(),
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
  capture: CaptureSchema.optional(),
  settings: z.record(z.string(), SettingSchema).default({}),
  request: RequestSchema,
  response: z.array(ResponseRuleSchema).default([]),
  retry: RetrySchema.optional(),
});
export type TemplateFile = z.infer<typeof TemplateFileSchema>;

/** Every field name the format knows, for "did you mean" on a misspelt key. */
export const TEMPLATE_FIELD_NAMES: readonly string[] = [
  ...new Set(
    [
      TemplateFileSchema,
      CaptureSchema,
      SettingSchema,
      RequestSchema,
      SignatureSchema,
      RetrySchema,
      ResponseRuleSchema,
      WhenSchema,
      JsonConditionSchema,
    ]
      .flatMap((schema) => Object.keys(schema.shape))
      .concat(AuthSchema.options.flatMap((schema) => Object.keys(schema.shape))),
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

export type JsonCondition =
  | { path: string[]; op: 'equals' | 'notEquals'; value: string | number | boolean | null }
  | { path: string[]; op: 'atLeast'; value: number };

/**
 * How the request authenticates. Credentials are template strings (usually a secret setting) and
 * are never optional at render time: a request sent without them would only be refused.
 */
export type RequestAuth =
  | { type: 'none' }
  | { type: 'basic'; user: TemplateString; password: TemplateString }
  | { type: 'bearer'; token: TemplateString }
  | { type: 'header'; name: string; value: TemplateString }
  | { type: 'query'; param: string; value: TemplateString };

/** One piece of a signature header's format: literal text or a computed value. */
export type SignaturePart = string | { token: 'hex' | 'base64' | 'timestamp' };

/**
 * An HMAC over `${timestamp}.${body}`, where timestamp is the render time in whole Unix seconds and
 * body the exact bytes sent; the same scheme as Stripe's and Svix's webhook signatures.
 */
export interface RequestSignature {
  header: string;
  timestampHeader?: string;
  secret: TemplateString;
  algorithm: (typeof SIGNATURE_ALGORITHMS)[number];
  format: SignaturePart[];
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
    auth: RequestAuth;
    signature?: RequestSignature;
    /** Variables that must be present; for kind affiliate, click_id always is. */
    required: VariableRef[];
    timeoutMs: number;
  };
  response: ResponseRule[];
  /** The network's own retry schedule and give-up age; the relay's default applies when absent. */
  retry?: { delaysSeconds: number[]; maxAgeHours: number };
}

export interface Problem {
  /** Where in the file, e.g. `request.query.click_id`; empty for the file as a whole. */
  path: string;
  message: string;
}
