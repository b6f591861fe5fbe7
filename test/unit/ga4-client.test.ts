import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseDataBody, parseDataQuery } from '../../src/clients/data.js';
import { parseGa4Hit } from '../../src/clients/ga4.js';
import { EVENT_FIELD_NAMES, normalizeEvent } from '../../src/clients/normalize.js';
import { forEachParam } from '../../src/clients/query.js';

test('GA4: a GET hit maps the web-protocol names onto the event', () => {
  const [event] = parseGa4Hit(
    'v=2&tid=G-ABC&cid=123.456&uid=u-9&en=purchase&dl=https%3A%2F%2Fshop.example%2F%3Fs1%3Dabc&dr=https%3A%2F%2Fref.example%2F' +
      '&cu=eur&ep.transaction_id=T-1&epn.value=49.90&ep.coupon=SALE&epn.tax=3&ep.click_id=CK1&gcs=G101',
    '',
  );
  assert.deepEqual(event, {
    event_name: 'purchase',
    page_location: 'https://shop.example/?s1=abc',
    page_referrer: 'https://ref.example/',
    client_id: '123.456',
    user_id: 'u-9',
    transaction_id: 'T-1',
    click_id: 'CK1',
    value: 49.9,
    currency: 'EUR',
    consent: { gcs: 'G101', ad_storage: 'denied', analytics_storage: 'granted' },
    params: { v: '2', tid: 'G-ABC', coupon: 'SALE', tax: 3 },
  });
});

test('GA4: a POST body carries one event per line, each inheriting the shared query', () => {
  const events = parseGa4Hit('v=2&tid=G-ABC&cid=1.2&dl=https%3A%2F%2Fshop.example%2F', 'en=page_view\nen=purchase&ep.transaction_id=T-2&epn.value=5\n\n');
  assert.deepEqual(events.map((e) => [e.event_name, e.client_id, e.transaction_id, e.value, e.page_location]), [
    ['page_view', '1.2', undefined, undefined, 'https://shop.example/'],
    ['purchase', '1.2', 'T-2', 5, 'https://shop.example/'],
  ]);
});

test('GA4: CRLF line endings in the body leave no stray carriage return in any value', () => {
  const events = parseGa4Hit('v=2', 'en=purchase&ep.transaction_id=T-3\r\nen=page_view\r\n');
  assert.deepEqual(events.map((e) => [e.event_name, e.transaction_id]), [['purchase', 'T-3'], ['page_view', undefined]]);
});

test('GA4: an event line overrides a shared parameter of the same name', () => {
  const [event] = parseGa4Hit('en=page_view&cu=USD', 'en=purchase&cu=EUR');
  assert.equal(event!.event_name, 'purchase');
  assert.equal(event!.currency, 'EUR');
});

test('GA4: every parameter lands where the generic field record would put it, whatever its prefix', () => {
  // The rule as documented: en/dl/dr/cid/uid/cu are renamed, ep. is a string parameter, epn. a
  // number, anything else keeps its name; an event field by any of these routes is the field.
  const renames: Record<string, string> = { en: 'event_name', dl: 'page_location', dr: 'page_referrer', cid: 'client_id', uid: 'user_id', cu: 'currency' };
  const reference = (query: string) => {
    const fields: Record<string, unknown> = {};
    forEachParam(query, (key, value) => {
      if (renames[key]) fields[renames[key]] = value;
      else if (key.startsWith('ep.')) fields[key.slice(3)] = value;
      else if (key.startsWith('epn.')) fields[key.slice(4)] = Number(value);
      else fields[key] = value;
    });
    return normalizeEvent(fields, '/g/collect');
  };
  const queries = [
    'en=purchase&ep.currency=usd&ep.value=12.5&ep.client_id=9.9&cid=1.1',
    'en=page_view&event_name=sign_up&ep.user_id=u1&uid=u2&ep.page_location=https%3A%2F%2Fa.example%2F',
    'en=purchase&transaction_id=T1&epn.transaction_id=42&click_id=C1&ep.gcs=G100&ad_storage=granted',
    'en=x&gcd=13l3l3&analytics_storage=denied&ep.ad_storage=denied&params=p&ep.=empty&epn.tax=1e3',
    'en=a&en=b&dt=Title&dt=Other&ep.event_name=c&tid=G-1&_p=1',
  ];
  for (const query of queries) assert.deepEqual(parseGa4Hit(query, ''), [reference(query)], query);
  // Every event field, by its own name too: a field the GA4 parser did not know would become a parameter.
  for (const name of EVENT_FIELD_NAMES) {
    if (name === 'consent') continue; // an object, which a query string cannot carry: refused below
    const value = name === 'value' ? '5' : name.endsWith('_storage') ? 'denied' : name === 'event_name' ? 'sign_up' : 'x1';
    const query = `en=purchase&ep.${name}=${value}`;
    assert.deepEqual(parseGa4Hit(query, ''), [reference(query)], query);
    assert.equal(name in parseGa4Hit(query, '')[0]!.params, false, `${name} is a field, not a parameter`);
  }
});

test('GA4: a mistyped field is refused with its name, as for any client', () => {
  assert.throws(() => parseGa4Hit('en=purchase&ep.consent=yes', ''), /"consent" must be an object/);
  assert.throws(() => parseGa4Hit('en=purchase&ep.value=ten', ''), /"value" must be a number/);
  assert.throws(() => parseGa4Hit('en=purchase&epn.value=ten', ''), /"epn.value" must be a number/);
  assert.throws(() => parseGa4Hit('en=bad%20name', ''), /"event_name" must be a name/);
});

test('GA4: more than 50 events in one request is refused', () => {
  assert.throws(() => parseGa4Hit('v=2', Array.from({ length: 51 }, () => 'en=x').join('\n')), /at most 50/);
});

test('JSON client: text/plain bodies (sendBeacon) are read as JSON; numbers as IDs become strings', () => {
  const [event] = parseDataBody('{"event_name":"purchase","transaction_id":1001,"value":"12.5","consent":{"ad_storage":"granted"}}', 'text/plain;charset=UTF-8');
  assert.equal(event!.transaction_id, '1001');
  assert.equal(event!.value, 12.5);
  assert.deepEqual(event!.consent, { ad_storage: 'granted' });
});

test('JSON client: other parameters are kept as given, nested ones too', () => {
  const [event] = parseDataBody('{"event_name":"purchase","items":[{"id":"sku-1","qty":2}],"coupon":null}', 'application/json');
  assert.deepEqual(event!.params, { items: [{ id: 'sku-1', qty: 2 }], coupon: null });
});

test('JSON client: an event without a name is a page view', () => {
  assert.equal(parseDataBody('{"page_location":"https://shop.example/"}', 'application/json')[0]!.event_name, 'page_view');
});

test('pixel client: query parameters are the same fields', () => {
  const event = parseDataQuery('event_name=purchase&transaction_id=T-9&value=3&ad_storage=denied');
  assert.equal(event.transaction_id, 'T-9');
  assert.equal(event.value, 3);
  assert.deepEqual(event.consent, { ad_storage: 'denied' });
});

test('query strings decode exactly as URLSearchParams decodes them, malformed ones included', () => {
  const cases = [
    'a=1&b=2', 'a=1&a=2', 'a+b=c+d', 'a%20b=%E2%82%AC', 'bad=%zz&cut=%E2%82', 'lone=%', 'flag&x=', '&&a=1&&',
    'k=a=b=c', '=v', 'dl=https%3A%2F%2Fshop.example%2F%3Fs1%3Dabc%26s2%3D%7Bclick%7D', 'emoji=%F0%9F%98%80', '',
  ];
  for (const query of cases) {
    const seen: Array<[string, string]> = [];
    forEachParam(query, (name, value) => seen.push([name, value]));
    assert.deepEqual(seen, [...new URLSearchParams(query)], query);
  }
});
