/**
 * Golden tests for the bundled templates: a fixture event renders to an exact request, and recorded
 * answers classify to the expected outcome.
 */
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { describe, test } from 'node:test';
import {
  BUNDLED_TEMPLATES_DIR,
  classifyResponse,
  loadTemplates,
  redactRequest,
  secretSettingValues,
  renderPostback,
  resolveSettings,
  type Outcome,
  type RenderedRequest,
} from '../../../src/destinations/index.js';
import type { ParamValue, RelayEvent } from '../../../src/events/event.js';
import { purchase } from './helpers.js';

const templates = loadTemplates(BUNDLED_TEMPLATES_DIR);
const now = new Date('2025-03-01T12:00:00Z');
/** When the click was captured ({click_time}) and when the relay accepted the sale ({conversion_time}). */
const clickCapturedAt = Date.parse('2025-02-28T09:30:00Z');
const conversionAt = Date.parse('2025-03-01T11:59:00Z');

/** What the relay collects for ad platforms (the parameters conversions carry), one sample visitor. */
const META_PARAMS: Record<string, ParamValue> = {
  email: ' Ada@Example.com ',
  phone: '+44 (0)20 7946 0958',
  fbp: 'fb.1.1740000000000.987654321',
  client_ip_address: '203.0.113.7',
  client_user_agent: 'Mozilla/5.0 (X11)',
};
const TIKTOK_PARAMS: Record<string, ParamValue> = {
  email: 'ada@example.com',
  phone: '+1 213 373 4253',
  ttp: '2Kx9abc',
  client_ip_address: '203.0.113.7',
  client_user_agent: 'Mozilla/5.0 (X11)',
};

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

function bundled(id: string) {
  const template = templates.get(id);
  assert.ok(template, `bundled template ${id} is missing`);
  return template;
}

const BUNDLED = [
  'awin', 'bemob', 'binom', 'cake-api-v2', 'cake-pashx', 'cj', 'everflow', 'ga4-measurement-protocol',
  'generic-get', 'generic-post-json', 'generic-webhook', 'impact', 'keitaro', 'meta-capi', 'partnerize',
  'partnerstack', 'rakuten', 'redtrack', 'tiktok-events', 'tradedoubler', 'tune', 'voluum',
];

test('the bundled folder holds exactly the documented templates', () => {
  assert.deepEqual([...templates.keys()].sort(), BUNDLED);
});

interface Golden {
  template: string;
  settings: Record<string, unknown>;
  clickId: string;
  /** Changes to the fixture purchase (see helpers.ts). */
  event?: Partial<RelayEvent>;
  sent: RenderedRequest;
  /** As the relay logs it; the same as `sent` when nothing in it is secret. */
  logged?: RenderedRequest;
}

const goldens: Golden[] = [
  {
    template: 'cake-api-v2',
    settings: { baseUrl: 'https://demo.cakemarketing.com/', offer_id: 42, api_key: 'k3y/s3cret+x' },
    clickId: 'a1b2c3d4-e5f6-4711',
    sent: {
      method: 'GET',
      url:
        'https://demo.cakemarketing.com/api/2/conversion.json?api_key=k3y%2Fs3cret%2Bx&click_id=a1b2c3d4-e5f6-4711' +
        '&offer_id=42&unique_id=ORD-1001&order_id=ORD-1001&revenue=49.90',
      headers: {},
    },
    logged: {
      method: 'GET',
      url:
        'https://demo.cakemarketing.com/api/2/conversion.json?api_key=<redacted>&click_id=a1b2c3d4-e5f6-4711' +
        '&offer_id=42&unique_id=ORD-1001&order_id=ORD-1001&revenue=49.90',
      headers: {},
    },
  },
  {
    template: 'cake-pashx',
    settings: { domain: 'Track.Example.com', offer_id: '17' },
    clickId: '25566',
    sent: {
      method: 'GET',
      url: 'https://track.example.com/p.ashx?o=17&f=pb&r=25566&t=ORD-1001&p=49.90',
      headers: {},
    },
    logged: {
      method: 'GET',
      url: 'https://track.example.com/p.ashx?o=17&f=pb&r=25566&t=ORD-1001&p=49.90',
      headers: {},
    },
  },
  {
    template: 'generic-get',
    settings: { url: 'https://tracker.example.net/postback', click_param: 'cid', currency_param: 'currency' },
    clickId: 'ABCDEFGHJKLMNPQRSTUVWXYZ12',
    sent: {
      method: 'GET',
      url: 'https://tracker.example.net/postback?cid=ABCDEFGHJKLMNPQRSTUVWXYZ12&txid=ORD-1001&payout=49.90&currency=USD',
      headers: {},
    },
    logged: {
      method: 'GET',
      url: 'https://tracker.example.net/postback?cid=ABCDEFGHJKLMNPQRSTUVWXYZ12&txid=ORD-1001&payout=49.90&currency=USD',
      headers: {},
    },
  },
  {
    template: 'everflow',
    settings: { domain: 'www.example-track.com', network_id: 7, verification_token: 'tok&en' },
    clickId: '56d75d3a4d6e433fb215698c056d0d58',
    event: { params: { coupon: 'SPRING25' } },
    sent: {
      method: 'GET',
      url: 'https://www.example-track.com/?nid=7&transaction_id=56d75d3a4d6e433fb215698c056d0d58&amount=49.90&order_id=ORD-1001&coupon_code=SPRING25&verification_token=tok%26en',
      headers: {},
    },
    logged: {
      method: 'GET',
      url: 'https://www.example-track.com/?nid=7&transaction_id=56d75d3a4d6e433fb215698c056d0d58&amount=49.90&order_id=ORD-1001&coupon_code=SPRING25&verification_token=<redacted>',
      headers: {},
    },
  },
  {
    template: 'tune',
    settings: { domain: 'demo.go2cloud.org', offer_id: 12, security_token: 's3cr3t' },
    clickId: '1027c887059b47bc69c699f45466b9',
    sent: {
      method: 'GET',
      url: 'https://demo.go2cloud.org/aff_lsr?offer_id=12&transaction_id=1027c887059b47bc69c699f45466b9&amount=49.90&adv_sub=ORD-1001&security_token=s3cr3t',
      headers: {},
    },
    logged: {
      method: 'GET',
      url: 'https://demo.go2cloud.org/aff_lsr?offer_id=12&transaction_id=1027c887059b47bc69c699f45466b9&amount=49.90&adv_sub=ORD-1001&security_token=<redacted>',
      headers: {},
    },
  },
  {
    template: 'impact',
    settings: { account_sid: 'IRab12CD34ef', auth_token: 'tok/en+1', campaign_id: 1000, action_tracker_id: 2000 },
    clickId: 'QiiWXOVnrQ3SQHl24jQjyxBGUkmzfJ3i1VHrWM0',
    sent: {
      method: 'POST',
      url: 'https://api.impact.com/Advertisers/IRab12CD34ef/Conversions',
      headers: { Accept: 'application/json', 'Content-Type': 'application/x-www-form-urlencoded', Authorization: 'Basic SVJhYjEyQ0QzNGVmOnRvay9lbisx' },
      body: 'CampaignId=1000&ActionTrackerId=2000&EventDate=2025-03-01T11%3A59%3A00.000Z&OrderId=ORD-1001&ClickId=QiiWXOVnrQ3SQHl24jQjyxBGUkmzfJ3i1VHrWM0&Amount=49.90&CurrencyCode=USD',
    },
    logged: {
      method: 'POST',
      url: 'https://api.impact.com/Advertisers/IRab12CD34ef/Conversions',
      headers: { Accept: 'application/json', 'Content-Type': 'application/x-www-form-urlencoded', Authorization: '<redacted>' },
      body: 'CampaignId=1000&ActionTrackerId=2000&EventDate=2025-03-01T11%3A59%3A00.000Z&OrderId=ORD-1001&ClickId=QiiWXOVnrQ3SQHl24jQjyxBGUkmzfJ3i1VHrWM0&Amount=49.90&CurrencyCode=USD',
    },
  },
  {
    template: 'awin',
    settings: { advertiser_id: 1001 },
    clickId: '1001_1403695822_a430d81e22c9e8687f423efcf024fbaa',
    event: { params: { coupon: 'SPRING25' } },
    sent: {
      method: 'GET',
      url: 'https://www.awin1.com/sread.php?tt=ss&tv=2&merchant=1001&amount=49.90&ch=aw&parts=DEFAULT%3A49.90&vc=SPRING25&cr=USD&ref=ORD-1001&testmode=0&cks=1001_1403695822_a430d81e22c9e8687f423efcf024fbaa',
      headers: {},
    },
  },
  {
    template: 'cj',
    settings: { enterprise_id: 1234567, action_tracker_id: 445566 },
    clickId: 'b7f2a9d4c1e836b0f92d4a1c5e7b8a39',
    sent: {
      method: 'GET',
      url: 'https://www.emjcd.com/u?CID=1234567&TYPE=445566&METHOD=S2S&CJEVENT=b7f2a9d4c1e836b0f92d4a1c5e7b8a39&eventTime=2025-03-01T11%3A59%3A00.000Z&OID=ORD-1001&CURRENCY=USD&AMOUNT=49.90',
      headers: {},
    },
  },
  {
    template: 'rakuten',
    settings: { mid: 36000 },
    clickId: 'bnwWbXPyqPU-MX1VkOpVD0qEXpkfL5QvYg',
    sent: {
      method: 'GET',
      url: 'https://track.linksynergy.com/ep?mid=36000&ord=ORD-1001&tr=bnwWbXPyqPU-MX1VkOpVD0qEXpkfL5QvYg&land=20250228_0930&skulist=ORDER&qlist=1&amtlist=4990&cur=USD&namelist=ORDER',
      headers: {},
    },
  },
  {
    template: 'tradedoubler',
    settings: { organization_id: 1234567, event_id: 890 },
    clickId: '2fa5d78bb69907999f4defb5aa79a64b',
    sent: {
      method: 'GET',
      url: 'https://tbs.tradedoubler.com/report?organization=1234567&event=890&ordernumber=ORD-1001&ordervalue=49.90&currency=USD&tduid=2fa5d78bb69907999f4defb5aa79a64b',
      headers: {},
    },
  },
  {
    template: 'partnerize',
    settings: { campaign_ref: '1011l123' },
    clickId: 'ab12:cd34_ef',
    sent: {
      method: 'GET',
      url: 'https://prf.hn/conversion/tracking_mode:api/campaign:1011l123/clickref:ab12%3Acd34_ef/conversionref:ORD-1001/currency:USD/[category:default/value:49.90/quantity:1]',
      headers: {},
    },
  },
  {
    template: 'partnerstack',
    settings: {},
    clickId: '69Fe7JSSXkDs',
    event: { event_name: 'sign_up', user_id: 'cus_42', params: { email: 'ada@example.com' } },
    sent: {
      method: 'POST',
      url: 'https://partnerlinks.io/conversion/xid',
      headers: { 'Content-Type': 'application/json' },
      body: '{"xid":"69Fe7JSSXkDs","customer_key":"cus_42","email":"ada@example.com"}',
    },
  },
  {
    template: 'voluum',
    settings: { domain: 'abcd1.voluumtrk.com', conversion_type: 'sale' },
    clickId: 'c384EFV6JHQODRN70575OK6UG5',
    sent: {
      method: 'GET',
      url: 'https://abcd1.voluumtrk.com/postback?cid=c384EFV6JHQODRN70575OK6UG5&payout=49.90&txid=ORD-1001&currency=USD&et=sale',
      headers: {},
    },
  },
  {
    template: 'redtrack',
    settings: { domain: 'trk.example.com', conversion_type: 'Purchase' },
    clickId: '6512bd43d9caa6e02c990b0a82',
    sent: {
      method: 'GET',
      url: 'https://trk.example.com/postback?clickid=6512bd43d9caa6e02c990b0a82&sum=49.90&type=Purchase&rdtk_event_id=ORD-1001',
      headers: {},
    },
  },
  {
    template: 'binom',
    settings: { domain: 'binom.example.com' },
    clickId: '81e60haa86o0b7',
    sent: {
      method: 'GET',
      url: 'https://binom.example.com/click.php?cnv_id=81e60haa86o0b7&payout=49.90&cnv_currency=USD',
      headers: {},
    },
  },
  {
    template: 'keitaro',
    settings: { domain: 'kt.example.com', postback_key: 'a1b2c3d' },
    clickId: 'x7Yz12AbCd',
    sent: {
      method: 'GET',
      url: 'https://kt.example.com/a1b2c3d/postback?subid=x7Yz12AbCd&status=sale&payout=49.90&tid=ORD-1001&currency=USD&return=RELAY_OK',
      headers: {},
    },
    logged: {
      method: 'GET',
      url: 'https://kt.example.com/<redacted>/postback?subid=x7Yz12AbCd&status=sale&payout=49.90&tid=ORD-1001&currency=USD&return=RELAY_OK',
      headers: {},
    },
  },
  {
    template: 'bemob',
    settings: { domain: 'bemob.example.com' },
    clickId: 'AMDT2idsBZnMWZjKDBbemx',
    sent: {
      method: 'GET',
      url: 'https://bemob.example.com/postback?cid=AMDT2idsBZnMWZjKDBbemx&payout=49.90&txid=ORD-1001',
      headers: {},
    },
  },
  {
    template: 'generic-post-json',
    settings: { url: 'https://api.example.com/conversions', bearer_token: 'bt-123' },
    clickId: 'CLICK-123',
    sent: {
      method: 'POST',
      url: 'https://api.example.com/conversions',
      headers: { Authorization: 'Bearer bt-123', 'Content-Type': 'application/json' },
      body: '{"click_id":"CLICK-123","transaction_id":"ORD-1001","event_name":"purchase","value":49.9,"currency":"USD","occurred_at":"2025-03-01T11:59:00.000Z"}',
    },
    logged: {
      method: 'POST',
      url: 'https://api.example.com/conversions',
      headers: { Authorization: '<redacted>', 'Content-Type': 'application/json' },
      body: '{"click_id":"CLICK-123","transaction_id":"ORD-1001","event_name":"purchase","value":49.9,"currency":"USD","occurred_at":"2025-03-01T11:59:00.000Z"}',
    },
  },
  {
    template: 'generic-webhook',
    settings: { url: 'https://shop.example.com/hooks/conversions', signing_secret: 'whsec_0123456789abcdef' },
    clickId: 'CLICK-123',
    sent: {
      method: 'POST',
      url: 'https://shop.example.com/hooks/conversions',
      headers: { 'Content-Type': 'application/json', 'X-Relay-Signature': 'v1=4de00ff43b9d7791061448624991971753d115e1e152b880ce05c70479ffca5c', 'X-Relay-Timestamp': '1740830400' },
      body: '{"type":"conversion","event_id":"ORD-1001","event_name":"purchase","occurred_at":"2025-03-01T11:59:00.000Z","click_id":"CLICK-123","transaction_id":"ORD-1001","value":49.9,"currency":"USD","client_id":"1234567890.1700000000"}',
    },
  },
  {
    template: 'ga4-measurement-protocol',
    settings: { measurement_id: 'G-ABC123XYZ', api_secret: 'mp-s3cret' },
    clickId: '',
    event: { user_id: 'u-7', params: { session_id: 1740830000 } },
    sent: {
      method: 'POST',
      url: 'https://www.google-analytics.com/mp/collect?measurement_id=G-ABC123XYZ&api_secret=mp-s3cret',
      headers: { 'Content-Type': 'application/json' },
      body: '{"client_id":"1234567890.1700000000","user_id":"u-7","timestamp_micros":1740830340000000,"events":[{"name":"purchase","params":{"transaction_id":"ORD-1001","value":49.9,"currency":"USD","session_id":1740830000}}]}',
    },
    logged: {
      method: 'POST',
      url: 'https://www.google-analytics.com/mp/collect?measurement_id=G-ABC123XYZ&api_secret=<redacted>',
      headers: { 'Content-Type': 'application/json' },
      body: '{"client_id":"1234567890.1700000000","user_id":"u-7","timestamp_micros":1740830340000000,"events":[{"name":"purchase","params":{"transaction_id":"ORD-1001","value":49.9,"currency":"USD","session_id":1740830000}}]}',
    },
  },
  {
    template: 'meta-capi',
    settings: { pixel_id: '1234567890', access_token: 'EAAB-token' },
    clickId: 'IwAR2xyz_ABC-def123',
    event: { page_location: 'https://shop.example.com/thanks', params: META_PARAMS },
    sent: {
      method: 'POST',
      url: 'https://graph.facebook.com/v22.0/1234567890/events?access_token=EAAB-token',
      headers: { 'Content-Type': 'application/json' },
      body: '{"data":[{"event_name":"Purchase","event_time":1740830340,"event_id":"ORD-1001","action_source":"website","event_source_url":"https://shop.example.com/thanks","user_data":{"fbc":"fb.1.1740735000000.IwAR2xyz_ABC-def123","fbp":"fb.1.1740000000000.987654321","client_ip_address":"203.0.113.7","client_user_agent":"Mozilla/5.0 (X11)","em":"b5fc85e55755f9e0d030a10ab4429b6b2944855f9a0d60077fe832becbc41d72","ph":"35e206e5dec4c89b9e8b71b8c32724a5bb518483ac5a20c6617d738375b3b823"},"custom_data":{"value":49.9,"currency":"USD","order_id":"ORD-1001"}}]}',
    },
    logged: {
      method: 'POST',
      url: 'https://graph.facebook.com/v22.0/1234567890/events?access_token=<redacted>',
      headers: { 'Content-Type': 'application/json' },
      body: '{"data":[{"event_name":"Purchase","event_time":1740830340,"event_id":"ORD-1001","action_source":"website","event_source_url":"https://shop.example.com/thanks","user_data":{"fbc":"fb.1.1740735000000.IwAR2xyz_ABC-def123","fbp":"fb.1.1740000000000.987654321","client_ip_address":"203.0.113.7","client_user_agent":"Mozilla/5.0 (X11)","em":"b5fc85e55755f9e0d030a10ab4429b6b2944855f9a0d60077fe832becbc41d72","ph":"35e206e5dec4c89b9e8b71b8c32724a5bb518483ac5a20c6617d738375b3b823"},"custom_data":{"value":49.9,"currency":"USD","order_id":"ORD-1001"}}]}',
    },
  },
  {
    template: 'tiktok-events',
    settings: { pixel_code: 'C4ABCDEF1234567890', access_token: 'tt-token' },
    clickId: 'E.C.P.abc123XYZ',
    event: { params: TIKTOK_PARAMS },
    sent: {
      method: 'POST',
      url: 'https://business-api.tiktok.com/open_api/v1.3/event/track/',
      headers: { 'Content-Type': 'application/json', 'Access-Token': 'tt-token' },
      body: '{"event_source":"web","event_source_id":"C4ABCDEF1234567890","data":[{"event":"CompletePayment","event_time":1740830340,"event_id":"ORD-1001","user":{"ttclid":"E.C.P.abc123XYZ","ttp":"2Kx9abc","email":"b5fc85e55755f9e0d030a10ab4429b6b2944855f9a0d60077fe832becbc41d72","phone":"9f7ec22d72092cd3c0b58726ed9c2d91b92e51a3f29837508fb2948bb22dd2fd","ip":"203.0.113.7","user_agent":"Mozilla/5.0 (X11)"},"properties":{"currency":"USD","value":49.9,"order_id":"ORD-1001"}}]}',
    },
    logged: {
      method: 'POST',
      url: 'https://business-api.tiktok.com/open_api/v1.3/event/track/',
      headers: { 'Content-Type': 'application/json', 'Access-Token': '<redacted>' },
      body: '{"event_source":"web","event_source_id":"C4ABCDEF1234567890","data":[{"event":"CompletePayment","event_time":1740830340,"event_id":"ORD-1001","user":{"ttclid":"E.C.P.abc123XYZ","ttp":"2Kx9abc","email":"b5fc85e55755f9e0d030a10ab4429b6b2944855f9a0d60077fe832becbc41d72","phone":"9f7ec22d72092cd3c0b58726ed9c2d91b92e51a3f29837508fb2948bb22dd2fd","ip":"203.0.113.7","user_agent":"Mozilla/5.0 (X11)"},"properties":{"currency":"USD","value":49.9,"order_id":"ORD-1001"}}]}',
    },
  },
];

describe('golden requests', () => {
  for (const golden of goldens) {
    test(golden.template, () => {
      const { template, sent } = renderGolden(golden);
      assert.deepEqual(sent, golden.sent);
      assert.deepEqual(redactRequest(secretSettingValues(template, settingsOf(golden)), sent), golden.logged ?? golden.sent);
      if (golden.clickId !== '') assert.ok(template.capture.pattern.test(golden.clickId), 'the golden click ID passes the capture pattern');
    });
  }
});

function settingsOf(golden: Golden): Record<string, string> {
  return resolveSettings(bundled(golden.template), golden.settings, `destinations[0] (${golden.template}).settings`);
}

function renderGolden(golden: Golden) {
  const template = bundled(golden.template);
  const event = purchase(golden.event);
  const sent = renderPostback(template, { event, clickId: golden.clickId, settings: settingsOf(golden), now, clickCapturedAt, conversionAt });
  return { template, sent };
}

function goldenBody(id: string): Record<string, unknown> {
  const golden = goldens.find((candidate) => candidate.template === id);
  assert.ok(golden?.sent.body, `no golden body for ${id}`);
  return JSON.parse(golden.sent.body) as Record<string, unknown>;
}

describe('the goldens hold what each platform documents', () => {
  test('impact: Basic auth is base64 of AccountSID:AuthToken (RFC 7617)', () => {
    const golden = goldens.find((candidate) => candidate.template === 'impact');
    const expected = `Basic ${Buffer.from('IRab12CD34ef:tok/en+1').toString('base64')}`;
    assert.equal(golden?.sent.headers.Authorization, expected);
  });

  test('meta-capi: fbc is fb.1.<click capture ms>.<fbclid>; em and ph are SHA-256 of the normalised values', () => {
    const [event] = goldenBody('meta-capi').data as Array<{ user_data: Record<string, string>; event_time: number }>;
    assert.equal(event?.user_data.fbc, `fb.1.${clickCapturedAt}.IwAR2xyz_ABC-def123`);
    assert.equal(event?.user_data.em, sha256('ada@example.com'));
    // +44 (0)20 7946 0958: country code and number, the "(0)" trunk prefix dropped, no "+".
    assert.equal(event?.user_data.ph, sha256('442079460958'));
    assert.equal(event?.event_time, conversionAt / 1000);
  });

  test('tiktok-events: phone is hashed in E.164 with "+"', () => {
    const [event] = goldenBody('tiktok-events').data as Array<{ user: Record<string, string> }>;
    assert.equal(event?.user.phone, sha256('+12133734253'));
    assert.equal(event?.user.email, sha256('ada@example.com'));
  });

  test('ga4: timestamp_micros is the conversion time in microseconds', () => {
    assert.equal(goldenBody('ga4-measurement-protocol').timestamp_micros, conversionAt * 1000);
  });

  test('generic-webhook: the signature is HMAC-SHA256 of "<timestamp>.<body>" with the signing secret', () => {
    const golden = goldens.find((candidate) => candidate.template === 'generic-webhook');
    const timestamp = golden?.sent.headers['X-Relay-Timestamp'];
    assert.equal(timestamp, String(now.getTime() / 1000));
    const mac = createHmac('sha256', 'whsec_0123456789abcdef').update(`${timestamp}.${golden?.sent.body}`).digest('hex');
    assert.equal(golden?.sent.headers['X-Relay-Signature'], `v1=${mac}`);
  });

  test('partnerize: each path value is encoded on its own, so it cannot add a segment', () => {
    const template = bundled('partnerize');
    const settings = resolveSettings(template, { campaign_ref: '1011l123' }, 's');
    const { url } = renderPostback(template, { event: purchase({ transaction_id: 'ORD/7?x#y' }), clickId: 'ab12:cd34_ef', settings, now });
    assert.match(url, /\/conversionref:ORD%2F7%3Fx%23y\/currency:USD\//);
    assert.equal(new URL(url).search, '');
  });

  test('ga4 needs a client_id and sends without a click ID', () => {
    const template = bundled('ga4-measurement-protocol');
    const settings = resolveSettings(template, { measurement_id: 'G-ABC123XYZ', api_secret: 'x' }, 's');
    assert.throws(() => renderPostback(template, { event: purchase({ client_id: undefined }), clickId: '', settings, now }), /required variable \{client_id\} is missing/);
  });

  test('meta-capi leaves fbc out when no fbclid was captured', () => {
    const template = bundled('meta-capi');
    const settings = resolveSettings(template, { pixel_id: '1234567890', access_token: 'x' }, 's');
    const request = renderPostback(template, { event: purchase({ params: { fbp: 'fb.1.1.2' } }), clickId: '', settings, now });
    const [event] = (JSON.parse(request.body ?? '') as { data: Array<{ user_data: Record<string, string> }> }).data;
    assert.deepEqual(event?.user_data, { fbp: 'fb.1.1.2' });
  });

  test('the templates with a retry policy expose it', () => {
    assert.deepEqual(bundled('meta-capi').retry?.maxAgeHours, 160);
    assert.deepEqual(bundled('ga4-measurement-protocol').retry?.maxAgeHours, 71);
    assert.deepEqual(bundled('everflow').retry?.delaysSeconds.slice(0, 3), [30, 120, 600]);
    assert.equal(bundled('voluum').retry, undefined);
  });

  test('ad platforms are kind platform, networks and trackers kind affiliate', () => {
    const platforms = [...templates.values()].filter((t) => t.kind === 'platform').map((t) => t.id).sort();
    assert.deepEqual(platforms, ['ga4-measurement-protocol', 'generic-webhook', 'meta-capi', 'tiktok-events']);
    assert.deepEqual(bundled('ga4-measurement-protocol').capture.params, []);
  });
});

test('cake-pashx sends e= when an event ID is configured', () => {
  const template = bundled('cake-pashx');
  const settings = resolveSettings(template, { domain: 'track.example.com', offer_id: 17, event_id: 3 }, 'x');
  const { url } = renderPostback(template, { event: purchase({ value: undefined }), clickId: '25566', settings });
  assert.equal(url, 'https://track.example.com/p.ashx?o=17&e=3&f=pb&r=25566&t=ORD-1001');
});

interface Answer {
  name: string;
  status: number;
  body: string;
  outcome: Outcome;
}

const answers: Record<string, Answer[]> = {
  'cake-api-v2': [
    {
      name: 'success JSON',
      status: 200,
      body: '{"request_status":"Success","conversion_id":98765,"click_id":"a1b2c3d4-e5f6-4711","conversion_status":"approved"}',
      outcome: 'success',
    },
    { name: 'invalid click', status: 200, body: '{"request_status":"Failure","message":"Invalid click_id"}', outcome: 'invalid_click' },
    { name: 'expired click', status: 200, body: '{"request_status":"Failure","message":"Expired click_id"}', outcome: 'expired_click' },
    { name: 'duplicate', status: 200, body: '{"request_status":"Failure","message":"Duplicate conversion"}', outcome: 'duplicate' },
    { name: 'offer not found', status: 200, body: '{"request_status":"Failure","message":"Offer not found"}', outcome: 'offer_inactive' },
    { name: 'offer inactive', status: 200, body: 'Offer is INACTIVE', outcome: 'offer_inactive' },
    { name: 'phrase case-insensitive', status: 200, body: 'error: invalid CLICK_ID', outcome: 'invalid_click' },
    { name: 'invalid click on a 400', status: 400, body: '{"message":"Invalid click_id"}', outcome: 'invalid_click' },
    { name: '503', status: 503, body: '<html>Service Unavailable: offer inactive</html>', outcome: 'retry' },
    { name: '429', status: 429, body: 'Too Many Requests', outcome: 'retry' },
    { name: '408', status: 408, body: '', outcome: 'retry' },
    { name: '404', status: 404, body: 'Not Found', outcome: 'rejected' },
    { name: '200 with unknown text', status: 200, body: 'OK', outcome: 'rejected' },
    { name: '302 redirect', status: 302, body: '', outcome: 'rejected' },
  ],
  'cake-pashx': [
    {
      name: 'XML success',
      status: 200,
      body: '<?xml version="1.0" encoding="utf-8"?><result><code>0</code><msg>SUCCESS</msg></result>',
      outcome: 'success',
    },
    { name: 'plain SUCCESS', status: 200, body: 'SUCCESS', outcome: 'success' },
    { name: 'unsuccessful', status: 200, body: '<result><code>1</code><msg>Unsuccessful</msg></result>', outcome: 'rejected' },
    { name: 'other failure', status: 200, body: '<result><code>2</code><msg>Invalid request</msg></result>', outcome: 'rejected' },
    { name: '500', status: 500, body: 'Server Error', outcome: 'retry' },
    { name: '404', status: 404, body: '', outcome: 'rejected' },
  ],
  'generic-get': [
    { name: 'plain OK', status: 200, body: 'OK', outcome: 'accepted_unverified' },
    { name: 'error body', status: 200, body: '{"error":"unknown click"}', outcome: 'rejected' },
    { name: 'invalid body', status: 200, body: 'Invalid clickid', outcome: 'rejected' },
    { name: 'failed body', status: 200, body: 'postback FAILED', outcome: 'rejected' },
    { name: '502', status: 502, body: '', outcome: 'retry' },
    { name: '403', status: 403, body: 'Forbidden', outcome: 'rejected' },
  ],
  everflow: [
    { name: 'plain 200 (verdict only in the Conversion Report)', status: 200, body: '', outcome: 'accepted_unverified' },
    { name: '500', status: 500, body: 'Internal Server Error', outcome: 'retry' },
    { name: '429', status: 429, body: '', outcome: 'retry' },
    { name: '404', status: 404, body: 'Not Found', outcome: 'rejected' },
  ],
  tune: [
    { name: 'success', status: 200, body: 'success=true;', outcome: 'success' },
    { name: 'duplicate', status: 200, body: 'success=false; err_msg=Duplicate conversion;', outcome: 'duplicate' },
    { name: 'invalid transaction', status: 200, body: 'success=false; err_msg=Invalid Trans. ID #1027c887059b47b.;', outcome: 'invalid_click' },
    { name: 'other failure', status: 200, body: 'success=false; err_msg=Offer paused;', outcome: 'rejected' },
    { name: 'no verdict', status: 200, body: '', outcome: 'rejected' },
    { name: '503 page mentioning duplicate', status: 503, body: 'duplicate request', outcome: 'retry' },
    { name: '400', status: 400, body: 'Bad Request', outcome: 'rejected' },
  ],
  impact: [
    { name: 'queued', status: 200, body: '{"Status":"QUEUED","QueuedUri":"/Advertisers/IRab12CD34ef/APISubmissions/A-1"}', outcome: 'accepted_unverified' },
    { name: '401 bad token', status: 401, body: '{"Status":"ERROR","Message":"Unauthorized"}', outcome: 'auth_failed' },
    { name: '403', status: 403, body: '', outcome: 'auth_failed' },
    { name: '400 missing field', status: 400, body: '{"Status":"ERROR","Message":"OrderId is required"}', outcome: 'rejected' },
    { name: '502', status: 502, body: '', outcome: 'retry' },
  ],
  awin: [
    { name: '200', status: 200, body: '', outcome: 'accepted_unverified' },
    { name: '500', status: 500, body: '', outcome: 'retry' },
    { name: '400', status: 400, body: '', outcome: 'rejected' },
  ],
  cj: [
    { name: '200', status: 200, body: '', outcome: 'accepted_unverified' },
    { name: '503', status: 503, body: '', outcome: 'retry' },
    { name: '400', status: 400, body: 'Bad Request', outcome: 'rejected' },
  ],
  rakuten: [
    { name: '200', status: 200, body: '', outcome: 'accepted_unverified' },
    { name: '200 with <error>', status: 200, body: '<error>invalid mid</error>', outcome: 'rejected' },
    { name: '500', status: 500, body: '', outcome: 'retry' },
    { name: '404', status: 404, body: '', outcome: 'rejected' },
  ],
  tradedoubler: [
    { name: '200', status: 200, body: '', outcome: 'accepted_unverified' },
    { name: '302 to the pixel', status: 302, body: '', outcome: 'accepted_unverified' },
    { name: '500', status: 500, body: '', outcome: 'retry' },
    { name: '400', status: 400, body: '', outcome: 'rejected' },
  ],
  partnerize: [
    { name: '200', status: 200, body: '', outcome: 'accepted_unverified' },
    { name: '500', status: 500, body: '', outcome: 'retry' },
    { name: '404', status: 404, body: '', outcome: 'rejected' },
  ],
  partnerstack: [
    { name: '200', status: 200, body: '{}', outcome: 'accepted_unverified' },
    { name: '500', status: 500, body: '', outcome: 'retry' },
    { name: '400', status: 400, body: '{"message":"invalid xid"}', outcome: 'rejected' },
  ],
  voluum: [
    { name: '200', status: 200, body: '', outcome: 'accepted_unverified' },
    { name: '500', status: 500, body: '', outcome: 'retry' },
    { name: '400', status: 400, body: '', outcome: 'rejected' },
  ],
  redtrack: [
    { name: '200', status: 200, body: 'ok', outcome: 'accepted_unverified' },
    { name: '500', status: 500, body: '', outcome: 'retry' },
    { name: '404', status: 404, body: '', outcome: 'rejected' },
  ],
  binom: [
    { name: '200', status: 200, body: '', outcome: 'accepted_unverified' },
    { name: '504', status: 504, body: '', outcome: 'retry' },
    { name: '403', status: 403, body: '', outcome: 'rejected' },
  ],
  keitaro: [
    { name: 'echo of return=', status: 200, body: 'RELAY_OK', outcome: 'success' },
    { name: 'echo with a newline', status: 200, body: 'RELAY_OK\n', outcome: 'success' },
    { name: '200 without the echo', status: 200, body: 'Error: unknown subid', outcome: 'rejected' },
    { name: 'echo inside other text is not the echo', status: 200, body: 'not RELAY_OK', outcome: 'rejected' },
    { name: '500', status: 500, body: 'RELAY_OK', outcome: 'retry' },
    { name: '404 (wrong key)', status: 404, body: '', outcome: 'rejected' },
  ],
  bemob: [
    { name: '200', status: 200, body: '', outcome: 'accepted_unverified' },
    { name: '500', status: 500, body: '', outcome: 'retry' },
    { name: '400', status: 400, body: '', outcome: 'rejected' },
  ],
  'generic-post-json': [
    { name: '201', status: 201, body: '{"id":"c_1"}', outcome: 'accepted_unverified' },
    { name: '200 success false', status: 200, body: '{"success":false,"error":"unknown click"}', outcome: 'rejected' },
    { name: '409 conflict', status: 409, body: '{"error":"exists"}', outcome: 'duplicate' },
    { name: '401', status: 401, body: '', outcome: 'auth_failed' },
    { name: '422', status: 422, body: '', outcome: 'rejected' },
    { name: '503', status: 503, body: '', outcome: 'retry' },
  ],
  'generic-webhook': [
    { name: '204', status: 204, body: '', outcome: 'success' },
    { name: '409 already recorded', status: 409, body: '', outcome: 'duplicate' },
    { name: '401 bad signature', status: 401, body: 'invalid signature', outcome: 'auth_failed' },
    { name: '400', status: 400, body: '', outcome: 'rejected' },
    { name: '500', status: 500, body: '', outcome: 'retry' },
  ],
  'ga4-measurement-protocol': [
    { name: '204 (no verdict, even for a malformed event)', status: 204, body: '', outcome: 'accepted_unverified' },
    { name: '500', status: 500, body: '', outcome: 'retry' },
    { name: '403', status: 403, body: '', outcome: 'rejected' },
  ],
  'meta-capi': [
    { name: 'received', status: 200, body: '{"events_received":1,"messages":[],"fbtrace_id":"AbC"}', outcome: 'success' },
    { name: 'none received', status: 200, body: '{"events_received":0,"messages":[],"fbtrace_id":"AbC"}', outcome: 'rejected' },
    { name: '200 without a count', status: 200, body: '{}', outcome: 'rejected' },
    {
      name: 'transient error',
      status: 400,
      body: '{"error":{"message":"An unexpected error has occurred","type":"OAuthException","code":2,"is_transient":true,"fbtrace_id":"AbC"}}',
      outcome: 'retry',
    },
    {
      name: 'stale event_time',
      status: 400,
      body: '{"error":{"message":"Invalid parameter","type":"OAuthException","code":100,"error_subcode":2804003,"is_transient":false,"fbtrace_id":"AbC"}}',
      outcome: 'rejected',
    },
    {
      name: 'expired token',
      status: 400,
      body: '{"error":{"message":"Error validating access token","type":"OAuthException","code":190,"is_transient":false}}',
      outcome: 'auth_failed',
    },
    { name: 'throttled', status: 400, body: '{"error":{"message":"Application request limit reached","code":4,"is_transient":false}}', outcome: 'retry' },
    { name: '500', status: 500, body: '', outcome: 'retry' },
    { name: '404 HTML', status: 404, body: '<html>Not Found</html>', outcome: 'rejected' },
  ],
  'tiktok-events': [
    { name: 'code 0', status: 200, body: '{"code":0,"message":"OK","request_id":"r1","data":{}}', outcome: 'success' },
    { name: 'code 40002 on a 200', status: 200, body: '{"code":40002,"message":"Invalid pixel code","request_id":"r1"}', outcome: 'rejected' },
    { name: 'rate limited', status: 200, body: '{"code":40100,"message":"Too many requests","request_id":"r1"}', outcome: 'retry' },
    { name: 'internal error', status: 200, body: '{"code":50002,"message":"System error","request_id":"r1"}', outcome: 'retry' },
    { name: 'expired token', status: 200, body: '{"code":40105,"message":"Access token is incorrect or has been revoked"}', outcome: 'auth_failed' },
    { name: '200 not JSON', status: 200, body: 'OK', outcome: 'rejected' },
    { name: '503', status: 503, body: '', outcome: 'retry' },
    { name: '401', status: 401, body: '', outcome: 'auth_failed' },
  ],
};

describe('recorded answers', () => {
  for (const [id, cases] of Object.entries(answers)) {
    for (const answer of cases) {
      test(`${id}: ${answer.name} → ${answer.outcome}`, () => {
        const verdict = classifyResponse(bundled(id), { status: answer.status, body: answer.body });
        assert.equal(verdict.outcome, answer.outcome, verdict.reason);
        assert.match(verdict.reason, new RegExp(`^HTTP ${answer.status}[;:]`));
      });
    }
  }
});

test('the reason names the matched phrase and keeps an excerpt of the body', () => {
  const verdict = classifyResponse(bundled('cake-api-v2'), {
    status: 200,
    body: '{"request_status":"Failure","message":"Invalid click_id"}',
  });
  assert.equal(
    verdict.reason,
    'HTTP 200; body matched "Invalid click_id" → invalid_click (body: {"request_status":"Failure","message":"Invalid click_id"})',
  );
});

test('every bundled template has a golden request and recorded answers', () => {
  assert.deepEqual([...new Set(goldens.map((golden) => golden.template))].sort(), BUNDLED);
  assert.deepEqual(Object.keys(answers).sort(), BUNDLED);
});
