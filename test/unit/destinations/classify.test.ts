import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { classifyResponse, type Outcome } from '../../../src/destinations/index.js';
import { minimalTemplate, templateFromYaml } from './helpers.js';

const RULES = minimalTemplate(
  [
    '  url: "https://example.com/pb"',
    'response:',
    '  - when: { json: { path: data.code, notEquals: 0 } }',
    '    outcome: rejected',
    '  - when: { json: { path: data.code, equals: 0 } }',
    '    outcome: success',
    '  - when: { status: 401 }',
    '    outcome: auth_failed',
    '  - when: { status: [409, "2xx"], body: "already" }',
    '    outcome: duplicate',
    '  - when: { json: { path: errors.0.kind, equals: expired } }',
    '    outcome: expired_click',
  ].join('\n'),
);

describe('template rules, first match wins, then the fallbacks', () => {
  const cases: Array<{ name: string; status: number; body: string; outcome: Outcome; reason: string }> = [
    { name: 'json notEquals', status: 200, body: '{"data":{"code":40001}}', outcome: 'rejected', reason: 'HTTP 200; data.code is not 0 (it is 40001) → rejected' },
    { name: 'json notEquals on an absent value', status: 200, body: '{"data":{}}', outcome: 'rejected', reason: 'data.code is not 0 (it is absent)' },
    { name: 'json equals', status: 200, body: '{"data":{"code":0}}', outcome: 'success', reason: 'HTTP 200; data.code equals 0 → success' },
    { name: 'json path through a list', status: 200, body: '{"data":{"code":0},"errors":[]}', outcome: 'success', reason: '' },
    { name: 'json rule never matches a non-JSON body', status: 200, body: '<html>code 0</html>', outcome: 'accepted_unverified', reason: "no response rule matched, so the network's verdict is unknown" },
    { name: 'exact status', status: 401, body: '', outcome: 'auth_failed', reason: 'HTTP 401; status is 401 → auth_failed (empty body)' },
    { name: 'status and body both hold', status: 409, body: 'Already recorded', outcome: 'duplicate', reason: 'HTTP 409; status is 409 and body matched "already" → duplicate' },
    { name: 'status class and body', status: 202, body: 'ALREADY', outcome: 'duplicate', reason: 'status is 2xx and body matched "already"' },
    { name: 'body alone is not enough when status is also required', status: 400, body: 'already', outcome: 'rejected', reason: 'the network refused the request and no response rule matched' },
    { name: 'fallback 5xx', status: 502, body: 'Bad Gateway', outcome: 'retry', reason: "HTTP 502; a server error on the network's side, usually temporary → retry (body: Bad Gateway)" },
    { name: 'fallback 501 is still a server error', status: 501, body: '', outcome: 'retry', reason: '' },
    { name: 'fallback 408', status: 408, body: '', outcome: 'retry', reason: 'request timeout' },
    { name: 'fallback 429', status: 429, body: '', outcome: 'retry', reason: 'rate limited' },
    { name: 'fallback 404', status: 404, body: 'Not Found', outcome: 'rejected', reason: 'HTTP 404;' },
    { name: 'fallback 3xx', status: 301, body: '', outcome: 'rejected', reason: 'the redirect was not followed' },
    { name: 'fallback 2xx', status: 204, body: '', outcome: 'accepted_unverified', reason: '' },
  ];
  for (const c of cases) {
    test(c.name, (t) => {
      const verdict = classifyResponse(templateFromYaml(t, RULES), { status: c.status, body: c.body });
      assert.equal(verdict.outcome, c.outcome, verdict.reason);
      assert.ok(verdict.reason.includes(c.reason), verdict.reason);
    });
  }
});

test('a redirect reason names its target and a 429 its Retry-After', (t) => {
  const template = templateFromYaml(t, RULES);
  const redirect = classifyResponse(template, { status: 302, body: '', headers: { Location: 'https://example.com/login' } });
  assert.equal(redirect.reason, 'HTTP 302; the redirect to https://example.com/login was not followed; a postback endpoint answers directly, so check the URL → rejected (empty body)');
  const limited = classifyResponse(template, { status: 429, body: 'slow down', headers: { 'retry-after': ['30'] } });
  assert.equal(limited.reason, 'HTTP 429; rate limited (Retry-After: 30) → retry (body: slow down)');
});

test('the body excerpt is flattened and cut to 200 characters', (t) => {
  const body = `<html>\n  <body>${'x'.repeat(500)}</body>\n</html>`;
  const verdict = classifyResponse(templateFromYaml(t, RULES), { status: 500, body });
  const excerpt = /\(body: (.*)\)$/.exec(verdict.reason)?.[1] ?? '';
  assert.equal(excerpt.length, 200);
  assert.ok(excerpt.startsWith('<html> <body>xxx'));
  assert.ok(excerpt.endsWith('…'));
});
