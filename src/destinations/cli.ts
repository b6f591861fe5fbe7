/**
 * The template tool behind `npm run template -- ...`: list the templates, validate a folder, and
 * render the exact request a conversion would produce, so a marketer can compare it with the
 * network's own postback URL character for character. It never sends anything and never opens
 * Redis: it only reads template files. src/template-cli.ts is the process entry; this module takes
 * its arguments and output streams as parameters so tests can run it in-process.
 */
import { statSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { ParamValue, RelayEvent } from '../events/event.js';
import { RelayError } from '../errors.js';
import { BUNDLED_TEMPLATES_DIR, loadTemplates } from './load.js';
import { redactRequest, secretSettingValues } from './redact.js';
import { renderPostback, type RenderedRequest } from './render.js';
import { resolveSettings } from './settings.js';
import { didYouMean } from './suggest.js';
import type { Template } from './template.js';

export interface CliIo {
  /** The command's result: the request, the list. */
  out: (line: string) => void;
  /** Notes and errors, so `out` stays clean to pipe or diff. */
  err: (line: string) => void;
}

export interface CliOptions {
  /** Where `list` and `render` read templates; the bundled folder unless `--dir` says otherwise. */
  templatesDir?: string;
  /** The render time, fixed in tests. */
  now?: () => Date;
}

/** 0: done. 1: `validate` found problems. 2: the command could not run as given. */
export type ExitCode = 0 | 1 | 2;

const USAGE = `Usage:
  template list [--dir DIR]
  template validate [DIR]
  template render ID --settings SETTINGS --event EVENT [--click-id ID] [--click-time MS] [--redact] [--dir DIR]

  SETTINGS  JSON ('{"domain":"track.example.com","offer_id":17}') or key=value pairs ('domain=track.example.com,offer_id=17')
  EVENT     JSON: event_name, transaction_id, value, currency, client_id, user_id, page_location,
            click_id, and params (other keys are taken as params), e.g.
            '{"transaction_id":"ORD-1","value":49.9,"currency":"USD","params":{"email":"a@b.com"}}'
  --click-time  when the click was captured, as epoch milliseconds or ISO 8601 ({click_time})
  --redact      hide secret settings and Authorization headers, as the relay's logs do

Prints the request that would be sent (method and URL, headers, blank line, body). Nothing is sent.`;

/** A problem with what the operator typed: reported on stderr with exit code 2. */
class UsageError extends Error {
  constructor(
    message: string,
    /** The usage text helps with a malformed command line, not with a misspelt template id. */
    readonly showUsage = true,
  ) {
    super(message);
  }
}

export function runCli(argv: readonly string[], io: CliIo, options: CliOptions = {}): ExitCode {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'list':
        return listCommand(rest, io, options);
      case 'validate':
        return validateCommand(rest, io);
      case 'render':
        return renderCommand(rest, io, options);
      case 'help':
      case '--help':
      case '-h':
        io.out(USAGE);
        return 0;
      default:
        throw new UsageError(command === undefined ? 'no command given' : `unknown command "${command}"${didYouMean(command, ['list', 'validate', 'render'])}`);
    }
  } catch (error) {
    if (error instanceof UsageError) {
      io.err(`error: ${error.message}`);
      if (error.showUsage) io.err(USAGE);
      return 2;
    }
    // A template, settings or render problem: its message already says what to fix.
    if (error instanceof RelayError) {
      io.err(`error: ${error.message}`);
      return 2;
    }
    throw error;
  }
}

function parse<T extends Record<string, { type: 'string' | 'boolean' }>>(args: readonly string[], spec: T) {
  try {
    return parseArgs({ args: [...args], options: spec, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

// ---------------------------------------------------------------------------------------------
// list and validate

function listCommand(args: readonly string[], io: CliIo, options: CliOptions): ExitCode {
  const { values, positionals } = parse(args, { dir: { type: 'string' } });
  if (positionals.length > 0) throw new UsageError(`list takes no arguments, got "${positionals.join(' ')}"`);
  const templates = loadTemplates(values.dir ?? options.templatesDir ?? BUNDLED_TEMPLATES_DIR);
  const rows = [...templates.values()]
    .sort((a, b) => a.id.localeCompare(b.id))
    .map((t) => [t.id, t.name, t.kind, t.verified ? 'yes' : 'no', requiredSettings(t).join(', ') || '-']);
  for (const line of formatTable(['ID', 'NAME', 'KIND', 'VERIFIED', 'REQUIRED SETTINGS'], rows)) io.out(line);
  return 0;
}

function requiredSettings(template: Template): string[] {
  return [...template.settings.values()].filter((spec) => spec.required).map((spec) => spec.name);
}

function formatTable(header: string[], rows: string[][]): string[] {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)));
  const line = (cells: string[]) => cells.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join('  ').trimEnd();
  return [line(header), ...rows.map(line)];
}

function validateCommand(args: readonly string[], io: CliIo): ExitCode {
  const { positionals } = parse(args, {});
  if (positionals.length > 1) throw new UsageError('validate takes at most one folder');
  const dir = positionals[0] ?? BUNDLED_TEMPLATES_DIR;
  if (!isDirectory(dir)) throw new UsageError(`${dir} is not a folder of templates`, false);
  try {
    const templates = loadTemplates(dir);
    io.out(`${templates.size} template${templates.size === 1 ? '' : 's'} in ${dir} are valid: ${[...templates.keys()].sort().join(', ')}`);
    return 0;
  } catch (error) {
    if (!(error instanceof RelayError) || error.code !== 'RELAY_TEMPLATE_INVALID') throw error;
    io.err(error.message);
    return 1;
  }
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------
// render

function renderCommand(args: readonly string[], io: CliIo, options: CliOptions): ExitCode {
  const { values, positionals } = parse(args, {
    settings: { type: 'string' },
    event: { type: 'string' },
    'click-id': { type: 'string' },
    'click-time': { type: 'string' },
    redact: { type: 'boolean' },
    dir: { type: 'string' },
  });
  if (positionals.length !== 1) throw new UsageError('render takes exactly one template id, e.g. render cake-pashx');
  const templates = loadTemplates(values.dir ?? options.templatesDir ?? BUNDLED_TEMPLATES_DIR);
  const template = findTemplate(templates, positionals[0] ?? '');
  // What was typed is checked before what it means: a JSON typo first, then the template's rules.
  const event = parseEvent(values.event);
  const given = parseSettings(values.settings ?? '');
  const settings = resolveSettings(template, given, '--settings');
  const clickId = values['click-id'] ?? event.click_id ?? '';
  const clickCapturedAt = values['click-time'] === undefined ? undefined : parseTime(values['click-time']);
  warnAboutClickId(template, clickId, io);
  const request = renderPostback(template, {
    event,
    clickId,
    settings,
    ...(options.now && { now: options.now() }),
    ...(clickCapturedAt !== undefined && { clickCapturedAt }),
  });
  const shown = values.redact ? redactRequest(secretSettingValues(template, settings), request) : request;
  io.err(`# ${template.id} (${template.name}): the request that would be sent; nothing was sent.`);
  for (const line of formatRequest(shown)) io.out(line);
  return 0;
}

function findTemplate(templates: ReadonlyMap<string, Template>, id: string): Template {
  const template = templates.get(id);
  if (template) return template;
  const known = [...templates.keys()].sort();
  throw new UsageError(`no template "${id}"${didYouMean(id, known) || '.'} Templates: ${known.join(', ')}`, false);
}

/** The relay would refuse this click ID at capture; the operator should know before comparing URLs. */
function warnAboutClickId(template: Template, clickId: string, io: CliIo): void {
  if (clickId === '') {
    if (template.kind === 'affiliate') io.err(`# note: no click ID given; pass --click-id, as ${template.id} needs one`);
    return;
  }
  if (template.capture.params.length > 0 && !template.capture.pattern.test(clickId)) {
    io.err(`# note: the relay would not capture "${clickId}": it does not match ${template.id}'s click-ID pattern ${template.capture.pattern.source}`);
  }
}

/** `GET url`, then each header, then a blank line and the body when there is one. */
export function formatRequest(request: RenderedRequest): string[] {
  const lines = [`${request.method} ${request.url}`];
  for (const [name, value] of Object.entries(request.headers)) lines.push(`${name}: ${value}`);
  if (request.body !== undefined) lines.push('', request.body);
  return lines;
}

// ---------------------------------------------------------------------------------------------
// Parsing what the operator typed

function parseSettings(text: string): Record<string, unknown> {
  const trimmed = text.trim();
  if (trimmed === '') return {};
  if (trimmed.startsWith('{')) return parseJsonObject(trimmed, '--settings');
  const settings: Record<string, string> = {};
  for (const pair of trimmed.split(',')) {
    const equals = pair.indexOf('=');
    if (equals <= 0) throw new UsageError(`--settings: "${pair}" is not key=value; for values with commas, give JSON`);
    settings[pair.slice(0, equals).trim()] = pair.slice(equals + 1).trim();
  }
  return settings;
}

function parseJsonObject(text: string, flag: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`${flag} is not valid JSON: ${(error as Error).message}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new UsageError(`${flag} must be a JSON object`);
  return value as Record<string, unknown>;
}

const EVENT_TEXT_FIELDS = ['event_name', 'page_location', 'page_referrer', 'client_id', 'user_id', 'transaction_id', 'currency', 'click_id'] as const;

/** The event as the relay would hold it; keys that are not event fields become params. */
function parseEvent(text: string | undefined): RelayEvent {
  if (text === undefined) throw new UsageError('--event is required, e.g. --event \'{"transaction_id":"ORD-1","value":49.9,"currency":"USD"}\'');
  const raw = parseJsonObject(text, '--event');
  const event: RelayEvent = { event_name: 'purchase', params: {} };
  for (const [key, value] of Object.entries(raw)) {
    if ((EVENT_TEXT_FIELDS as readonly string[]).includes(key)) {
      if (typeof value !== 'string') throw new UsageError(`--event: ${key} must be text, not ${JSON.stringify(value)}`);
      event[key as (typeof EVENT_TEXT_FIELDS)[number]] = value;
    } else if (key === 'value') {
      event.value = parseAmount(value);
    } else if (key === 'params') {
      if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new UsageError('--event: params must be an object');
      Object.assign(event.params, value as Record<string, ParamValue>);
    } else {
      event.params[key] = value as ParamValue;
    }
  }
  return event;
}

function parseAmount(value: unknown): number {
  const number = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof number !== 'number' || !Number.isFinite(number)) throw new UsageError(`--event: value must be a number, not ${JSON.stringify(value)}`);
  return number;
}

function parseTime(text: string): number {
  const ms = /^[0-9]+$/.test(text) ? Number(text) : Date.parse(text);
  if (!Number.isFinite(ms)) throw new UsageError(`--click-time: "${text}" is neither epoch milliseconds nor an ISO 8601 time`);
  return ms;
}
