/**
 * Decides what a network's answer means. Many networks answer 200 whatever happened and put the
 * verdict in the body, so each template's rules look at status, body text and JSON fields; the
 * built-in fallbacks only apply when no rule matched.
 */
import type { Classification, Outcome } from './outcome.js';
import { truncate } from '../text.js';
import type { JsonCondition, ResponseRule, StatusMatcher, Template } from './template.js';

export interface ResponseAnswer {
  status: number;
  body: string;
  headers?: Record<string, string | string[] | undefined>;
}

const EXCERPT_LENGTH = 200;
const NOT_JSON = Symbol('not JSON');

export function classifyResponse(template: Template, answer: ResponseAnswer): Classification {
  const json = parseJson(answer.body);
  for (const rule of template.response) {
    const matched = describeMatch(rule, answer, json);
    if (matched) return classification(answer, rule.outcome, matched);
  }
  return fallback(answer);
}

function classification(answer: ResponseAnswer, outcome: Outcome, why: string): Classification {
  return { outcome, reason: `HTTP ${answer.status}; ${why} → ${outcome} (${excerpt(answer.body)})` };
}

/** A short description of why every condition of the rule holds, or undefined when one does not. */
function describeMatch(rule: ResponseRule, answer: ResponseAnswer, json: unknown): string | undefined {
  const reasons: string[] = [];
  if (rule.status) {
    const matcher = rule.status.find((candidate) => statusMatches(candidate, answer.status));
    if (!matcher) return undefined;
    reasons.push(`status is ${matcher.kind === 'class' ? `${matcher.digit}xx` : matcher.code}`);
  }
  if (rule.body) {
    if (!rule.body.test(answer.body)) return undefined;
    reasons.push(`body matched "${rule.body.source}"`);
  }
  if (rule.json) {
    const reason = jsonConditionHolds(rule.json, json);
    if (reason === undefined) return undefined;
    reasons.push(reason);
  }
  return reasons.join(' and ');
}

function statusMatches(matcher: StatusMatcher, status: number): boolean {
  return matcher.kind === 'class' ? Math.floor(status / 100) === matcher.digit : matcher.code === status;
}

/** A non-JSON body never matches: a `notEquals` rule must not fire on an HTML error page. */
function jsonConditionHolds(condition: JsonCondition, json: unknown): string | undefined {
  if (json === NOT_JSON) return undefined;
  const path = condition.path.join('.');
  const actual = valueAt(json, condition.path);
  const expected = JSON.stringify(condition.value);
  if (condition.op === 'atLeast') {
    return typeof actual === 'number' && actual >= condition.value ? `${path} is ${actual}, at least ${expected}` : undefined;
  }
  const equal = actual === condition.value;
  if (condition.op === 'equals') return equal ? `${path} equals ${expected}` : undefined;
  if (equal) return undefined;
  return `${path} is not ${expected} (it is ${actual === undefined ? 'absent' : truncate(JSON.stringify(actual), 60)})`;
}

function parseJson(body: string): unknown {
  try {
    return JSON.parse(body) as unknown;
  } catch {
    return NOT_JSON;
  }
}

function valueAt(root: unknown, path: string[]): unknown {
  let current = root;
  for (const key of path) {
    if (current === null || typeof current !== 'object' || !Object.hasOwn(current, key)) return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

// ---------------------------------------------------------------------------------------------
// Fallbacks when no rule matched

function fallback(answer: ResponseAnswer): Classification {
  const { status } = answer;
  if (status === 408) return classification(answer, 'retry', 'request timeout, which is temporary');
  if (status === 429) return classification(answer, 'retry', `rate limited${retryAfterNote(answer)}`);
  if (status >= 500 && status < 600) return classification(answer, 'retry', "a server error on the network's side, usually temporary");
  if (status >= 300 && status < 400) return classification(answer, 'rejected', redirectNote(answer));
  if (status >= 400 && status < 500) return classification(answer, 'rejected', 'the network refused the request and no response rule matched');
  if (status >= 200 && status < 300) {
    return classification(answer, 'accepted_unverified', "no response rule matched, so the network's verdict is unknown");
  }
  return classification(answer, 'rejected', 'an unexpected status');
}

function redirectNote(answer: ResponseAnswer): string {
  const location = header(answer, 'location');
  const target = location ? ` to ${truncate(location, EXCERPT_LENGTH)}` : '';
  return `the redirect${target} was not followed; a postback endpoint answers directly, so check the URL`;
}

function retryAfterNote(answer: ResponseAnswer): string {
  const retryAfter = header(answer, 'retry-after');
  return retryAfter ? ` (Retry-After: ${truncate(retryAfter, 40)})` : '';
}

function header(answer: ResponseAnswer, name: string): string | undefined {
  const entry = Object.entries(answer.headers ?? {}).find(([key]) => key.toLowerCase() === name);
  const value = entry?.[1];
  return Array.isArray(value) ? value.join(', ') : value;
}

function excerpt(body: string): string {
  const flat = body.replace(/\s+/g, ' ').trim();
  return flat === '' ? 'empty body' : `body: ${truncate(flat, EXCERPT_LENGTH)}`;
}

