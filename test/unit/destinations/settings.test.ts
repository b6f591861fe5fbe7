import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { BUNDLED_TEMPLATES_DIR, loadTemplates, resolveSettings } from '../../../src/destinations/index.js';
import { ConfigError } from '../../../src/errors.js';

const templates = loadTemplates(BUNDLED_TEMPLATES_DIR);
const cake = templates.get('cake-api-v2')!;
const pashx = templates.get('cake-pashx')!;
const generic = templates.get('generic-get')!;
const WHERE = 'destinations[0] (cake).settings';

describe('valid settings resolve', () => {
  const cases = [
    {
      name: 'numbers become text and URLs lose their trailing slash',
      template: cake,
      given: { baseUrl: 'https://Demo.CakeMarketing.com/', offer_id: 42, api_key: ' abc ' },
      expected: { baseUrl: 'https://demo.cakemarketing.com', offer_id: '42', api_key: 'abc' },
    },
    {
      name: 'hosts are lower-cased and may carry a port',
      template: pashx,
      given: { domain: 'Track.Example.COM:8443', offer_id: '17' },
      expected: { domain: 'track.example.com:8443', offer_id: '17' },
    },
    {
      name: 'defaults apply and unset optional settings are left out',
      template: generic,
      given: { url: 'https://t.example.net/postback' },
      expected: { url: 'https://t.example.net/postback', click_param: 'clickid', transaction_param: 'txid', value_param: 'payout' },
    },
  ];
  for (const c of cases) {
    test(c.name, () => assert.deepEqual(resolveSettings(c.template, c.given, WHERE), c.expected));
  }
});

describe('invalid settings are refused, every problem listed', () => {
  const cases = [
    {
      name: 'missing required',
      template: cake,
      given: { baseUrl: 'https://demo.cakemarketing.com' },
      messages: [
        `${WHERE}.offer_id is required: the offer ID`,
        `${WHERE}.api_key is required: an API key from Setup → System Access → API Keys`,
        'have 2 problems',
      ],
    },
    {
      name: 'unknown key with a suggestion',
      template: cake,
      given: { baseUrl: 'https://demo.cakemarketing.com', offerid: 42, offer_id: 42, api_key: 'k' },
      messages: [`${WHERE}.offerid is not a setting of template cake-api-v2 — did you mean offer_id? Its settings: baseUrl, offer_id, api_key.`],
    },
    {
      name: 'pattern mismatch',
      template: pashx,
      given: { domain: 'track.example.com', offer_id: '17a' },
      messages: [`${WHERE}.offer_id: "17a" does not match the pattern ^(?:[0-9]{1,10})$`],
    },
    {
      name: 'a url with a query',
      template: generic,
      given: { url: 'https://t.example.net/postback?cid={clickid}' },
      messages: [`${WHERE}.url: "https://t.example.net/postback?cid={clickid}" contains a {macro} placeholder`],
    },
    {
      name: 'a url with a query but no placeholder',
      template: generic,
      given: { url: 'https://t.example.net/postback?x=1' },
      messages: ['must not contain a query (?...); the template adds the parameters'],
    },
    {
      name: 'a relative url',
      template: generic,
      given: { url: 't.example.net/postback' },
      messages: ['is not an absolute URL'],
    },
    {
      name: 'a url that is not http',
      template: generic,
      given: { url: 'ftp://t.example.net/postback' },
      messages: ['must start with https:// or http://'],
    },
    {
      name: 'a host given as a URL',
      template: pashx,
      given: { domain: 'https://track.example.com', offer_id: '17' },
      messages: ['"https://track.example.com" must be the host name only, without https://'],
    },
    {
      name: 'a host with a path',
      template: pashx,
      given: { domain: 'track.example.com/p.ashx', offer_id: '17' },
      messages: ['is not a host name such as track.example.com'],
    },
    {
      name: 'a value that is neither text nor a number',
      template: pashx,
      given: { domain: 'track.example.com', offer_id: true },
      messages: [`${WHERE}.offer_id must be text or a number, not boolean`],
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      assert.throws(
        () => resolveSettings(c.template, c.given, WHERE),
        (error: unknown) => {
          assert.ok(error instanceof ConfigError);
          for (const message of c.messages) assert.ok(error.message.includes(message), `expected "${message}" in:\n${error.message}`);
          return true;
        },
      );
    });
  }
});

test('a secret never appears in a message', () => {
  const secret = 'sk_live_{not-expanded}';
  assert.throws(
    () => resolveSettings(cake, { baseUrl: 'https://demo.cakemarketing.com', offer_id: 1, api_key: secret }, WHERE),
    (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.ok(!error.message.includes('sk_live'), error.message);
      assert.ok(error.message.includes(`${WHERE}.api_key: <secret> contains an unexpanded placeholder`), error.message);
      return true;
    },
  );
});
