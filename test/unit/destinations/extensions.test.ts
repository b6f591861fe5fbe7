/**
 * The format's request extensions: auth, signature, the time variables, the hashing filters,
 * numeric JSON conditions, platform templates without capture, and the template retry policy.
 */
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { describe, test } from 'node:test';
import { classifyResponse, renderPostback, resolveSettings, type Template } from '../../../src/destinations/index.js';
import { minimalTemplate, purchase, templateFromYaml } from './helpers.js';

const now = new Date('2025-03-01T12:00:00.000Z');
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

function render(template: Template, settings: Record<string, unknown> = {}, extra: Partial<Parameters<typeof renderPostback>[1]> = {}) {
  return renderPostback(template, { event: purchase(), clickId: 'C1', settings: resolveSettings(template, settings, 's'), now, ...extra });
}

const SECRET_SETTINGS = ['  key: { required: true, secret: true }', '  user: { required: true }'].join('\n');

describe('auth', () => {
  const cases: Array<{ name: string; auth: string; check: (request: ReturnType<typeof render>) => void }> = [
    {
      name: 'basic',
      auth: '{ type: basic, user: "{settings.user}", password: "{settings.key}" }',
      check: (r) => assert.equal(r.headers.Authorization, `Basic ${Buffer.from('sid:k€y').toString('base64')}`),
    },
    { name: 'bearer', auth: '{ type: bearer, token: "{settings.key}" }', check: (r) => assert.equal(r.headers.Authorization, 'Bearer k€y') },
    {
      name: 'header',
      auth: '{ type: header, name: X-Api-Key, value: "{settings.key}" }',
      check: (r) => assert.equal(r.headers['X-Api-Key'], 'k€y'),
    },
    {
      name: 'query',
      auth: '{ type: query, param: api_key, value: "{settings.key}" }',
      check: (r) => assert.equal(r.url, 'https://example.com/pb?cid=C1&api_key=k%E2%82%ACy'),
    },
    { name: 'none', auth: '{ type: none }', check: (r) => assert.deepEqual(r.headers, {}) },
  ];
  for (const c of cases) {
    test(c.name, (t) => {
      const yaml = minimalTemplate(`  url: https://example.com/pb\n  query: { cid: "{click_id}" }\n  auth: ${c.auth}`, SECRET_SETTINGS);
      c.check(render(templateFromYaml(t, yaml), { key: 'k€y', user: 'sid' }));
    });
  }

  test('a credential that renders empty fails the render instead of sending an unauthenticated request', (t) => {
    const yaml = minimalTemplate('  url: https://example.com/pb\n  auth: { type: bearer, token: "{settings.key}" }', '  key: { secret: true }');
    assert.throws(() => render(templateFromYaml(t, yaml)), /request\.auth\.token: \{settings\.key\} is needed to authenticate but is missing/);
  });

  test('a query auth parameter that is also in request.query is refused', (t) => {
    const yaml = minimalTemplate(
      '  url: https://example.com/pb\n  query: { api_key: "x" }\n  auth: { type: query, param: api_key, value: "{settings.key}" }',
      '  key: { required: true, secret: true }',
    );
    assert.throws(() => render(templateFromYaml(t, yaml), { key: 'k' }), /parameter "api_key" is also in request\.query/);
  });

  test('a Basic user with ":" is refused (RFC 7617)', (t) => {
    const yaml = minimalTemplate('  url: https://example.com/pb\n  auth: { type: basic, user: "{settings.user}", password: "{settings.key}" }', SECRET_SETTINGS);
    assert.throws(() => render(templateFromYaml(t, yaml), { key: 'k', user: 'a:b' }), /cannot contain ":"/);
  });
});

describe('signature', () => {
  const yaml = (format: string) =>
    minimalTemplate(
      [
        '  method: POST',
        '  url: https://example.com/hook',
        '  json: { id: "{transaction_id}", amount: "{value}" }',
        `  signature: { header: X-Sig, timestampHeader: X-Ts, secret: "{settings.key}", format: '${format}' }`,
      ].join('\n'),
      '  key: { required: true, secret: true }',
    );

  test('HMAC-SHA256 over "<unix seconds>.<body>", hex', (t) => {
    const request = render(templateFromYaml(t, yaml('v1={hex}')), { key: 'shh' });
    const expected = createHmac('sha256', 'shh').update(`1740830400.${request.body}`).digest('hex');
    assert.equal(request.headers['X-Ts'], '1740830400');
    assert.equal(request.headers['X-Sig'], `v1=${expected}`);
  });

  test('base64 and the timestamp inside the header, Stripe style', (t) => {
    const request = render(templateFromYaml(t, yaml('t={timestamp},v1={base64}')), { key: 'shh' });
    const expected = createHmac('sha256', 'shh').update(`1740830400.${request.body}`).digest('base64');
    assert.equal(request.headers['X-Sig'], `t=1740830400,v1=${expected}`);
  });
});

describe('time variables', () => {
  const yaml = minimalTemplate(
    '  url: https://example.com/pb\n  query: { fbc: "fb.1.{click_time}.{click_id}", at: "{conversion_time|iso_time}", ms: "{now|unix_ms}", land: "{click_time|yyyymmdd_hhmm}" }',
  );

  test('click_time and conversion_time come from the render input', (t) => {
    const request = render(templateFromYaml(t, yaml), {}, { clickCapturedAt: 1740735000123, conversionAt: Date.parse('2025-03-01T11:00:00Z') });
    assert.deepEqual(Object.fromEntries(new URL(request.url).searchParams), {
      fbc: 'fb.1.1740735000123.C1',
      at: '2025-03-01T11:00:00.000Z',
      ms: '1740830400000',
      land: '20250228_0930',
    });
  });

  test('both fall back to the render time when absent (an explicit click ID has no capture time)', (t) => {
    const request = render(templateFromYaml(t, yaml));
    assert.equal(new URL(request.url).searchParams.get('fbc'), 'fb.1.1740830400000.C1');
    assert.equal(new URL(request.url).searchParams.get('at'), '2025-03-01T12:00:00.000Z');
  });
});

describe('hashing filters', () => {
  const yaml = minimalTemplate(
    '  url: https://example.com/pb\n  query: { em: "{event.email|sha256_email}", ph: "{event.phone|sha256_phone}", e164: "{event.phone|sha256_phone_e164}", us: "{now|unix_micros}" }',
  );
  const cases: Array<{ name: string; email: string; phone: string; em: string; ph: string; e164: string }> = [
    { name: 'normalised', email: '  Jane.Doe@Example.COM ', phone: '+1 (650) 555-1212', em: sha256('jane.doe@example.com'), ph: sha256('16505551212'), e164: sha256('+16505551212') },
    { name: '00 prefix and (0) trunk', email: 'a@b.c', phone: '0044 (0)20 7946 0958', em: sha256('a@b.c'), ph: sha256('442079460958'), e164: sha256('+442079460958') },
    { name: 'already hashed values are kept', email: sha256('x@y.z').toUpperCase(), phone: sha256('15550001111'), em: sha256('x@y.z'), ph: sha256('15550001111'), e164: sha256('15550001111') },
  ];
  for (const c of cases) {
    test(c.name, (t) => {
      const template = templateFromYaml(t, yaml);
      const request = renderPostback(template, { event: purchase({ params: { email: c.email, phone: c.phone } }), clickId: 'C1', settings: {}, now });
      const params = Object.fromEntries(new URL(request.url).searchParams);
      assert.deepEqual(params, { em: c.em, ph: c.ph, e164: c.e164, us: '1740830400000000' });
    });
  }

  test('a phone number without enough digits fails the render with the placeholder', (t) => {
    const template = templateFromYaml(t, yaml);
    assert.throws(
      () => renderPostback(template, { event: purchase({ params: { email: 'a@b.c', phone: 'n/a 12' } }), clickId: 'C1', settings: {}, now }),
      /\{event\.phone\|sha256_phone\} needs a phone number with country code/,
    );
  });
});

test('a JSON list or object emptied by missing values is left out; one written empty is kept', (t) => {
  const template = templateFromYaml(
    t,
    minimalTemplate('  method: POST\n  url: https://example.com/pb\n  json: { id: "{click_id}", page: { url: "{page_location}" }, tags: ["{event.tag}"], fixed: {} }'),
  );
  assert.equal(render(template).body, '{"id":"C1","fixed":{}}');
});

describe('json atLeast', () => {
  test('holds for a number at or above the bound only', (t) => {
    const template = templateFromYaml(
      t,
      `${minimalTemplate('  url: https://example.com/pb')}\nresponse:\n  - when: { json: { path: events_received, atLeast: 1 } }\n    outcome: success`,
    );
    const outcome = (body: string) => classifyResponse(template, { status: 200, body }).outcome;
    assert.equal(outcome('{"events_received":2}'), 'success');
    assert.equal(outcome('{"events_received":0}'), 'accepted_unverified');
    assert.equal(outcome('{"events_received":"1"}'), 'accepted_unverified');
    assert.equal(classifyResponse(template, { status: 200, body: '{"events_received":1}' }).reason, 'HTTP 200; events_received is 1, at least 1 → success (body: {"events_received":1})');
  });
});

test('a platform template may leave out capture: it never captures a click and needs none', (t) => {
  const template = templateFromYaml(
    t,
    'name: P\nkind: platform\nverified: false\nrequest:\n  method: POST\n  url: https://example.com/pb\n  json: { click: "{click_id}", id: "{transaction_id}" }',
  );
  assert.deepEqual(template.capture.params, []);
  assert.equal(template.capture.pattern.test('anything'), false);
  const request = renderPostback(template, { event: purchase(), clickId: '', settings: {}, now });
  assert.equal(request.body, '{"id":"ORD-1001"}');
});

test('retry is compiled onto the template', (t) => {
  const template = templateFromYaml(t, `${minimalTemplate('  url: https://example.com/pb')}\nretry: { delaysSeconds: [30, 120], maxAgeHours: 720 }`);
  assert.deepEqual(template.retry, { delaysSeconds: [30, 120], maxAgeHours: 720 });
});
