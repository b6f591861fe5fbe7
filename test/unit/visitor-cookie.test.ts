import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createVisitorCookies } from '../../src/visitor/cookie.js';

const OLD = 'old-secret-0123456789abcdef';
const NEW = 'new-secret-0123456789abcdef';
const options = { name: 'rl_vid', maxAgeDays: 395, secrets: [OLD] };

function cookieValue(setCookie: string): string {
  return setCookie.split(';')[0]!;
}

test('a new visitor gets a signed ID with the contract attributes', () => {
  const cookies = createVisitorCookies({ ...options, domain: '.shop.example' });
  const visitor = cookies.identify(undefined);
  assert.deepEqual([visitor.cookie, visitor.issue], ['missing', true]);
  const header = cookies.serialize(visitor.id, true);
  assert.match(header, /^rl_vid=[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{22}; Max-Age=34128000; Path=\/; Domain=\.shop\.example; HttpOnly; SameSite=Lax; Secure$/);
});

test('a signed cookie is recognised among other cookies', () => {
  const cookies = createVisitorCookies(options);
  const id = cookies.identify(undefined).id;
  const header = `_ga=GA1.1.1.2; xrl_vid=nope; ${cookieValue(cookies.serialize(id, false))}; other=1`;
  assert.deepEqual(cookies.identify(header), { id, cookie: 'valid', issue: false });
});

const tampered: Array<[string, (v: string) => string]> = [
  ['a changed signature', (v) => v.slice(0, -2) + (v.endsWith('AA') ? 'BB' : 'AA')],
  ['a changed ID', (v) => v.replace(/=(.)/, (_m, c: string) => `=${c === 'A' ? 'B' : 'A'}`)],
  ['no signature', (v) => v.split('.')[0]!],
  ['a truncated signature', (v) => v.slice(0, -4)],
  ['garbage', () => 'rl_vid=<script>'],
];

for (const [name, tamper] of tampered) {
  test(`a cookie with ${name} is ignored and replaced`, () => {
    const cookies = createVisitorCookies(options);
    const id = cookies.identify(undefined).id;
    const visitor = cookies.identify(tamper(cookieValue(cookies.serialize(id, false))));
    assert.equal(visitor.cookie, 'invalid');
    assert.equal(visitor.issue, true);
    assert.notEqual(visitor.id, id);
  });
}

test('rotation: a cookie signed with the previous secret still verifies, and is re-signed', () => {
  const before = createVisitorCookies(options);
  const id = before.identify(undefined).id;
  const issued = cookieValue(before.serialize(id, false));
  const after = createVisitorCookies({ ...options, secrets: [NEW, OLD] });
  const visitor = after.identify(issued);
  assert.deepEqual(visitor, { id, cookie: 'valid', issue: true });
  assert.notEqual(cookieValue(after.serialize(id, false)), issued);
  const retired = createVisitorCookies({ ...options, secrets: [NEW] });
  assert.equal(retired.identify(issued).cookie, 'invalid');
});
