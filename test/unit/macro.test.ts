import assert from 'node:assert/strict';
import { test } from 'node:test';
import { placeholderReason } from '../../src/events/macro.js';

const refused: Array<[string, RegExp]> = [
  ['', /empty/],
  ['   ', /empty/],
  ['{clickid}', /\{macro\}/],
  ['{{awc}}', /\{macro\}/],
  ['${SUBID}', /\$\{MACRO\}/],
  ['#s2#', /#macro#/],
  ['#reqid#', /#macro#/],
  ['[CLICK_ID]', /\[MACRO\]/],
  ['[[subid]]', /\[MACRO\]/],
  ['%TRANSACTION_ID%', /%MACRO%/],
  ['<TRACKER>', /<MACRO>/],
  ['!!!awc!!!', /!!!macro!!!/],
  ['REPLACE', /literal placeholder/],
  ['transaction_id', /literal placeholder/],
  ['request_session_id', /literal placeholder/],
  ['null', /empty-value stand-in/],
  ['(not set)', /empty-value stand-in/],
  ['%7Bclickid%7D', /\{macro\}/],
  ['%257Bclickid%257D', /\{macro\}/],
  ['%23s2%23', /#macro#/],
  ['abc{clickid}', /\{macro\}/],
];

const accepted = [
  'a1b2c3d4-e5f6-4711-8899-aabbccddeeff',
  '102ab3c4d5e6f7a8b9c0d1e2f3a4b5c6',
  '25566',
  'c384EFV6JHQODRN70575OK6UG5',
  '12345_1700000000_0123456789abcdef0123456789abcdef',
  'Cj0KCQiA-abc_DEF',
  'value%20with%20spaces',
  '100%',
  'abcdefabcdefabcdefabcdefabcdefab',
  'Cj0KCQiA.abc_DEF-0123456789',
];

for (const [value, why] of refused) {
  test(`refuses ${JSON.stringify(value)}`, () => {
    const reason = placeholderReason(value);
    assert.ok(reason, `expected a refusal for ${value}`);
    assert.match(reason, why);
  });
}

for (const value of accepted) {
  test(`accepts ${JSON.stringify(value)}`, () => {
    assert.equal(placeholderReason(value), undefined);
  });
}

test('a value of plain characters longer than every literal stand-in is never a placeholder', () => {
  // The stand-ins are what such a value could still be refused as; the longest one is refused.
  assert.match(placeholderReason('REQUEST_SESSION_ID') ?? '', /literal placeholder/);
  assert.equal(placeholderReason('REQUEST_SESSION_IDS'), undefined);
  assert.match(placeholderReason('REQUEST_SESSION_ID_{x}') ?? '', /\{macro\}/);
});
