/**
 * Reads destination templates from YAML files. A template that fails any check stops startup with
 * one ConfigError that names each file and lists every problem with its path inside the file.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';
import type { z } from 'zod';
import { ConfigError } from '../errors.js';
import { compileTemplate } from './compile.js';
import { didYouMean } from './suggest.js';
import {
  TEMPLATE_FIELD_NAMES,
  TemplateFileSchema,
  type Problem,
  type Template,
} from './template.js';

const TEMPLATE_ERROR_CODE = 'RELAY_TEMPLATE_INVALID';
const TEMPLATE_EXTENSION = '.yaml';
const TEMPLATE_ID = /^[a-z0-9][a-z0-9_-]*$/;

/**
 * The repo's templates/destinations. This file runs from src/destinations under tsx and from
 * dist/src/destinations once compiled, so the folder is found by walking up a few levels.
 */
export const BUNDLED_TEMPLATES_DIR = findBundledTemplatesDir(dirname(fileURLToPath(import.meta.url)));

function findBundledTemplatesDir(start: string): string {
  let dir = start;
  for (let level = 0; level < 4; level++) {
    const candidate = join(dir, 'templates', 'destinations');
    if (existsSync(candidate)) return candidate;
    dir = dirname(dir);
  }
  return resolve(start, '..', '..', 'templates', 'destinations');
}

/**
 * Loads and checks the templates in `dir`; with `only`, just those (startup compiles what the config
 * uses, and names a missing one with the closest that exists).
 */
export function loadTemplates(dir: string, only?: ReadonlySet<string>): Map<string, Template> {
  const templates = new Map<string, Template>();
  const failures: string[] = [];
  const entries = listTemplateFiles(dir);
  const available = entries.filter((e) => e.endsWith(TEMPLATE_EXTENSION)).map((e) => e.slice(0, -TEMPLATE_EXTENSION.length));
  for (const id of only ?? []) {
    if (!available.includes(id)) {
      failures.push(`no template "${id}" in ${dir}${didYouMean(id, available)} (known: ${available.sort().join(', ')})`);
    }
  }
  for (const entry of entries) {
    if (only && !only.has(entry.slice(0, -TEMPLATE_EXTENSION.length))) continue;
    const path = join(dir, entry);
    if (!entry.endsWith(TEMPLATE_EXTENSION)) {
      failures.push(describeFailure(path, [{ path: '', message: `template files end in ${TEMPLATE_EXTENSION}; rename it` }]));
      continue;
    }
    const result = readTemplate(path);
    if (result.ok) templates.set(result.template.id, result.template);
    else failures.push(describeFailure(path, result.problems));
  }
  if (failures.length > 0) throw new ConfigError(failures.join('\n'), TEMPLATE_ERROR_CODE);
  return templates;
}

export function loadTemplateFile(path: string): Template {
  const result = readTemplate(path);
  if (!result.ok) throw new ConfigError(describeFailure(path, result.problems), TEMPLATE_ERROR_CODE);
  return result.template;
}

/** `.yaml` files, plus `.yml` ones so they are reported rather than silently skipped. */
function listTemplateFiles(dir: string): string[] {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch (error) {
    throw new ConfigError(`cannot read the templates folder ${dir}: ${(error as Error).message}`, TEMPLATE_ERROR_CODE);
  }
  return entries.filter((entry) => entry.endsWith(TEMPLATE_EXTENSION) || entry.endsWith('.yml')).sort();
}

type ReadResult = { ok: true; template: Template } | { ok: false; problems: Problem[] };

function readTemplate(path: string): ReadResult {
  const id = basename(path, TEMPLATE_EXTENSION);
  if (!TEMPLATE_ID.test(id)) {
    const message = 'the file name is the template id: lower-case letters, digits, - and _ only';
    return { ok: false, problems: [{ path: '', message }] };
  }
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    return { ok: false, problems: [{ path: '', message: `cannot read the file: ${(error as Error).message}` }] };
  }
  const parsed = parseYaml(text);
  if (!parsed.ok) return parsed;
  // Each template is checked once per process: zod's compiled fast path would not pay for itself.
  const checked = TemplateFileSchema.safeParse(parsed.value, { jitless: true });
  if (checked.success) return compileTemplate(id, path, checked.data);
  const shapeProblems = checked.error.issues.flatMap((issue) => issueProblems(issue, parsed.value));
  const laterProblems = compileRepairedCopy(id, path, parsed.value, checked.error.issues);
  return { ok: false, problems: [...shapeProblems, ...laterProblems] };
}

// ---------------------------------------------------------------------------------------------
// Listing every problem: a shape problem (a wrong type, a misspelt field) stops zod before the
// placeholders are checked. A copy with each bad value replaced by a harmless stand-in is compiled
// too, so one run reports both kinds and the author does not fix them one at a time.

const STAND_INS: Record<string, unknown> = {
  name: 'stand-in',
  kind: 'affiliate',
  verified: false,
  capture: { params: ['stand-in'], pattern: 'stand-in' },
  'capture.params': ['stand-in'],
  'capture.pattern': 'stand-in',
  request: { url: 'https://stand-in.invalid' },
  'request.url': 'https://stand-in.invalid',
  response: [],
  'response.*': { when: { status: 100 }, outcome: 'rejected' },
  settings: {},
  'settings.*': {},
};

/**
 * How much of the file a bad value takes with it: a whole response rule or setting (so indexes and
 * names in messages stay right), the whole auth, signature or retry block (whose fields only make
 * sense together, and which are optional), or just the value.
 */
function repairCut(path: readonly PropertyKey[]): readonly PropertyKey[] {
  if (path.length >= 2 && (path[0] === 'response' || path[0] === 'settings')) return path.slice(0, 2);
  if (path.length >= 2 && path[0] === 'request' && (path[1] === 'auth' || path[1] === 'signature')) return path.slice(0, 2);
  if (path.length >= 1 && path[0] === 'retry') return path.slice(0, 1);
  return path;
}

function standInKey(path: readonly PropertyKey[]): string {
  const isWholeEntry = path.length === 2 && (path[0] === 'response' || path[0] === 'settings');
  return isWholeEntry ? `${String(path[0])}.*` : path.map(String).join('.');
}

function compileRepairedCopy(id: string, path: string, raw: object, issues: z.core.$ZodIssue[]): Problem[] {
  const copy = structuredClone(raw) as Record<string, unknown>;
  let remaining = issues;
  for (let round = 0; round < 5; round++) {
    for (const issue of remaining) repair(copy, issue);
    const checked = TemplateFileSchema.safeParse(copy);
    if (checked.success) {
      const compiled = compileTemplate(id, path, checked.data);
      return compiled.ok ? [] : compiled.problems;
    }
    remaining = checked.error.issues;
  }
  return [];
}

function repair(root: Record<string, unknown>, issue: z.core.$ZodIssue): void {
  if (issue.code === 'unrecognized_keys') {
    const target = valueAt(root, issue.path);
    if (target !== null && typeof target === 'object') for (const key of issue.keys) delete (target as Record<string, unknown>)[key];
    return;
  }
  const cut = repairCut(issue.path);
  const parent = valueAt(root, cut.slice(0, -1));
  const key = cut.at(-1);
  if (key === undefined || parent === null || typeof parent !== 'object') return;
  const standIn = STAND_INS[standInKey(cut)];
  if (standIn !== undefined) (parent as Record<PropertyKey, unknown>)[key] = structuredClone(standIn);
  else delete (parent as Record<PropertyKey, unknown>)[key];
}

function parseYaml(text: string): { ok: true; value: object } | { ok: false; problems: Problem[] } {
  const document = YAML.parseDocument(text);
  if (document.errors.length > 0) {
    const problems = document.errors.map((error) => ({
      path: error.linePos ? `line ${error.linePos[0].line}` : '',
      message: (error.message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, ''),
    }));
    return { ok: false, problems };
  }
  const value: unknown = document.toJS();
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return { ok: false, problems: [{ path: '', message: 'a template is a YAML mapping with name, kind, capture, request, ...' }] };
  }
  return { ok: true, value };
}

/** A zod issue rewritten for a template author: the path in the file, and a suggestion when one fits. */
function issueProblems(issue: z.core.$ZodIssue, raw: unknown): Problem[] {
  const path = formatPath(issue.path);
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => ({
      path: path === '' ? key : `${path}.${key}`,
      message: `unknown field${didYouMean(key, TEMPLATE_FIELD_NAMES)}`,
    }));
  }
  if (issue.code === 'invalid_value' && issue.values.every((v) => typeof v === 'string')) {
    const given = valueAt(raw, issue.path);
    const allowed = issue.values as string[];
    const message = given === undefined
      ? `missing: expected one of ${allowed.join(', ')}`
      : `${JSON.stringify(given)} is not one of ${allowed.join(', ')}${didYouMean(String(given), allowed)}`;
    return [{ path, message }];
  }
  // zod's generic text for a missing field; fields with their own message keep it.
  if (issue.code === 'invalid_type' && issue.message.startsWith('Invalid input') && valueAt(raw, issue.path) === undefined) {
    return [{ path, message: `missing: expected ${issue.expected}` }];
  }
  return [{ path, message: issue.message }];
}

function formatPath(segments: readonly PropertyKey[]): string {
  return segments
    .map((segment, index) => {
      if (typeof segment === 'number') return `[${segment}]`;
      return index === 0 ? String(segment) : `.${String(segment)}`;
    })
    .join('');
}

function valueAt(root: unknown, segments: readonly PropertyKey[]): unknown {
  let current = root;
  for (const segment of segments) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<PropertyKey, unknown>)[segment];
  }
  return current;
}

function describeFailure(file: string, problems: Problem[]): string {
  const count = problems.length === 1 ? '1 problem' : `${problems.length} problems`;
  const lines = problems.map((problem) => `  - ${problem.path === '' ? '' : `${problem.path}: `}${problem.message}`);
  return [`destination template ${file} has ${count}:`, ...lines].join('\n');
}
