import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import { RenderError, renderPostback, resolveSettings } from '../../../src/destinations/index.js';
import { minimalTemplate, purchase, templateFromYaml } from './helpers.js';

const now = new Date('2025-03-01T12:00:00.000Z');

const GET_TEMPLATE = minimalTemplate(
  [
    '  url: "https://{settings.domain}/pb/{event.campaign}/done"',
    '  query:',
    '    cid: "{click_id}"',
    '    txid: "{transaction_id}"',
    '    payout: "{value|decimal2}"',
    '    coupon: "{event.coupon}"',
    '    fixed: "1"',
  ].join('\n'),
  '  domain: { type: host, required: true }',
);

function paramsOf(url: string): Array<[string, string]> {
  return [...new URL(url).searchParams.entries()];
}

describe('hostile values cannot add or change parameters', () => {
  const hostile = [
    'a&payout=999',
    'a b c',
    'x#frag',
    'ünïcødé-✓-日本',
    'line\r\nX-Injected: 1',
    '?cid=evil',
    '%26payout%3D999',
    'a+b=c;d',
    '../../admin',
  ];
  for (const value of hostile) {
    test(JSON.stringify(value), (t) => {
      const template = templateFromYaml(t, GET_TEMPLATE);
      const settings = resolveSettings(template, { domain: 'track.example.com' }, 'settings');
      const request = renderPostback(template, {
        event: purchase({ transaction_id: value, params: { coupon: value, campaign: value } }),
        clickId: 'CLICK123',
        settings,
        now,
      });
      const url = new URL(request.url);
      assert.equal(url.host, 'track.example.com');
      assert.equal(url.hash, '');
      assert.equal(decodeURIComponent(url.pathname), `/pb/${value}/done`);
      assert.deepEqual(paramsOf(request.url), [
        ['cid', 'CLICK123'],
        ['txid', value],
        ['payout', '49.90'],
        ['coupon', value],
        ['fixed', '1'],
      ]);
    });
  }
});

test('a path value of ".." is refused rather than normalised away', (t) => {
  const template = templateFromYaml(t, GET_TEMPLATE);
  const settings = { domain: 'track.example.com' };
  assert.throws(
    () => renderPostback(template, { event: purchase({ params: { campaign: '..' } }), clickId: 'CLICK123', settings }),
    (error: unknown) => error instanceof RenderError && /"\." or "\.\." path segment/.test(error.message),
  );
});

describe('unexpanded macros in event values throw RenderError with the reason', () => {
  const cases = [
    {
      name: 'transaction_id with {{…}}',
      event: purchase({ transaction_id: '{{order_id}}' }),
      clickId: 'CLICK123',
      message: 'transaction_id "{{order_id}}" contains a {macro} placeholder that was never expanded',
    },
    {
      name: 'click ID with #s2#',
      event: purchase(),
      clickId: '#s2#',
      message: 'click_id "#s2#" contains a #macro# placeholder that was never expanded',
    },
    {
      name: 'click ID that is a stand-in',
      event: purchase(),
      clickId: 'undefined',
      message: 'click_id "undefined" is an empty-value stand-in, not a click ID',
    },
    {
      name: 'transaction ID that is a literal placeholder',
      event: purchase({ transaction_id: 'TRANSACTION_ID' }),
      clickId: 'CLICK123',
      message: 'transaction_id "TRANSACTION_ID" is a literal placeholder that was never replaced',
    },
    {
      name: 'event parameter with %MACRO%',
      event: purchase({ params: { campaign: 'spring', coupon: '%COUPON%' } }),
      clickId: 'CLICK123',
      message: 'event.coupon "%COUPON%" contains a %MACRO% placeholder that was never expanded',
    },
    {
      name: 'double-encoded placeholder',
      event: purchase({ transaction_id: '%257Border_id%257D' }),
      clickId: 'CLICK123',
      message: 'contains a {macro} placeholder',
    },
  ];
  for (const c of cases) {
    test(c.name, (t) => {
      const template = templateFromYaml(t, GET_TEMPLATE);
      const settings = { domain: 'track.example.com' };
      const event = { ...c.event, params: { campaign: 'spring', ...c.event.params } };
      assert.throws(
        () => renderPostback(template, { event, clickId: c.clickId, settings }),
        (error: unknown) =>
          error instanceof RenderError && error.code === 'RELAY_TEMPLATE_RENDER' && error.message.includes(c.message),
      );
    });
  }
});

test('free-text event values that merely look empty-ish are sent, not refused', (t) => {
  const template = templateFromYaml(t, GET_TEMPLATE);
  const event = purchase({ params: { campaign: 'spring', coupon: 'none' } });
  const request = renderPostback(template, { event, clickId: 'CLICK123', settings: { domain: 'track.example.com' } });
  assert.equal(new URL(request.url).searchParams.get('coupon'), 'none');
});

test('empty or absent optional values leave their field out', (t) => {
  const template = templateFromYaml(t, GET_TEMPLATE);
  const event = purchase({ transaction_id: '', value: undefined, params: { campaign: 'spring', coupon: null } });
  const request = renderPostback(template, { event, clickId: 'CLICK123', settings: { domain: 'track.example.com' } });
  assert.deepEqual(paramsOf(request.url), [
    ['cid', 'CLICK123'],
    ['fixed', '1'],
  ]);
});

describe('missing required values throw RenderError', () => {
  const cases = [
    { name: 'click ID of an affiliate template', clickId: '', event: purchase({ params: { campaign: 'x' } }), message: '{click_id} is missing' },
    { name: 'a variable listed in request.required', clickId: 'C1', event: purchase({ transaction_id: undefined, params: { campaign: 'x' } }), message: '{transaction_id} is missing: the event has no transaction_id' },
    { name: 'a URL path placeholder', clickId: 'C1', event: purchase(), message: '{event.campaign} is needed in the URL but is missing' },
  ];
  for (const c of cases) {
    test(c.name, (t) => {
      const yaml = GET_TEMPLATE.replace('  query:', '  required: [transaction_id]\n  query:');
      const template = templateFromYaml(t, yaml);
      assert.throws(
        () => renderPostback(template, { event: c.event, clickId: c.clickId, settings: { domain: 'track.example.com' } }),
        (error: unknown) => error instanceof RenderError && error.message.includes(c.message),
      );
    });
  }
});

test('every filter', (t) => {
  const template = templateFromYaml(
    t,
    minimalTemplate(
      [
        '  url: "https://example.com/pb"',
        '  query:',
        '    d2: "{value|decimal2}"',
        '    d2_round: "{event.odd|decimal2}"',
        '    cents: "{value|cents}"',
        '    upper: "{currency|upper}"',
        '    lower: "{event.name|lower}"',
        '    iso: "{now|iso_time}"',
        '    unix: "{now|unix_time}"',
        '    from_seconds: "{event.ts|iso_time}"',
        '    hash: "{event.email|sha256}"',
        '    chained: "{event.name|upper|lower}"',
        '    now: "{now}"',
      ].join('\n'),
    ),
  );
  const event = purchase({ value: 49.9, params: { odd: '1.005', name: 'MiXeD', ts: 1700000000, email: '  Jane@Example.COM ' } });
  const request = renderPostback(template, { event, clickId: 'C1', settings: {}, now });
  assert.deepEqual(Object.fromEntries(new URL(request.url).searchParams), {
    d2: '49.90',
    d2_round: '1.01',
    cents: '4990',
    upper: 'USD',
    lower: 'mixed',
    iso: '2025-03-01T12:00:00.000Z',
    unix: '1740830400',
    from_seconds: '2023-11-14T22:13:20.000Z',
    hash: createHash('sha256').update('jane@example.com').digest('hex'),
    chained: 'mixed',
    now: '2025-03-01T12:00:00.000Z',
  });
});

test('a filter that cannot use its input says which placeholder and value', (t) => {
  const template = templateFromYaml(t, minimalTemplate('  url: "https://example.com/pb"\n  query:\n    p: "{event.amount|decimal2}"'));
  assert.throws(
    () => renderPostback(template, { event: purchase({ params: { amount: 'ten' } }), clickId: 'C1', settings: {} }),
    (error: unknown) => error instanceof RenderError && error.message.includes('{event.amount|decimal2} needs a number, but the value is "ten"'),
  );
});

test('POST form body is encoded and typed as a form', (t) => {
  const template = templateFromYaml(
    t,
    minimalTemplate('  method: POST\n  url: "https://example.com/pb"\n  form:\n    click: "{click_id}"\n    order: "{transaction_id}"\n    empty: "{user_id}"'),
  );
  const request = renderPostback(template, { event: purchase({ transaction_id: 'a&b=c d' }), clickId: 'C1', settings: {} });
  assert.deepEqual(request, {
    method: 'POST',
    url: 'https://example.com/pb',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: 'click=C1&order=a%26b%3Dc+d',
  });
});

test('POST JSON body keeps numbers as numbers when a field is one placeholder', (t) => {
  const template = templateFromYaml(
    t,
    minimalTemplate(
      [
        '  method: POST',
        '  url: "https://api.example.com/v1/conversions"',
        '  query: { key: "{settings.token}" }',
        '  headers:',
        '    Authorization: "Bearer {settings.token}"',
        '    X-Event: "{event_name}"',
        '  json:',
        '    click_id: "{click_id}"',
        '    amount: "{value}"',
        '    cents: "{value|cents}"',
        '    label: "order {transaction_id}"',
        '    items: "{event.items}"',
        '    missing: "{user_id}"',
        '    fixed: 3',
        '    nested: { currency: "{currency|upper}", at: "{now|unix_time}", list: ["{transaction_id}", "{user_id}"] }',
      ].join('\n'),
      '  token: { required: true, secret: true }',
    ),
  );
  const event = purchase({ params: { items: [{ sku: 'A-1', qty: 2 }] } });
  const request = renderPostback(template, { event, clickId: 'C1', settings: { token: 't0k' }, now });
  assert.equal(request.url, 'https://api.example.com/v1/conversions?key=t0k');
  assert.deepEqual(request.headers, { Authorization: 'Bearer t0k', 'X-Event': 'purchase', 'Content-Type': 'application/json' });
  assert.deepEqual(JSON.parse(request.body ?? ''), {
    click_id: 'C1',
    amount: 49.9,
    cents: 4990,
    label: 'order ORD-1001',
    items: [{ sku: 'A-1', qty: 2 }],
    fixed: 3,
    nested: { currency: 'USD', at: 1740830400, list: ['ORD-1001'] },
  });
});

test('a header value with a line break is refused', (t) => {
  const template = templateFromYaml(t, minimalTemplate('  url: "https://example.com/pb"\n  headers:\n    X-Order: "{transaction_id}"'));
  assert.throws(
    () => renderPostback(template, { event: purchase({ transaction_id: 'a\r\nX-Evil: 1' }), clickId: 'C1', settings: {} }),
    (error: unknown) => error instanceof RenderError && /line break/.test(error.message),
  );
});

test('a url setting that was never validated is checked at the point of use', (t) => {
  const template = templateFromYaml(
    t,
    minimalTemplate('  url: "{settings.base}/pb"', '  base: { type: url, required: true }'),
  );
  for (const base of ['javascript:alert(1)', 'https://a.example/?x=1', 'https://user:pw@a.example']) {
    assert.throws(
      () => renderPostback(template, { event: purchase(), clickId: 'C1', settings: { base } }),
      (error: unknown) => error instanceof RenderError && error.message.includes('setting base'),
    );
  }
});

test('two fields rendering to the same parameter name are refused', (t) => {
  const template = templateFromYaml(
    t,
    minimalTemplate(
      '  url: "https://example.com/pb"\n  query:\n    "{settings.a}": "{click_id}"\n    "{settings.b}": "{transaction_id}"',
      '  a: { default: id }\n  b: { default: id }',
    ),
  );
  assert.throws(
    () => renderPostback(template, { event: purchase(), clickId: 'C1', settings: { a: 'id', b: 'id' } }),
    (error: unknown) => error instanceof RenderError && error.message.includes('parameter "id" would be sent twice'),
  );
});
