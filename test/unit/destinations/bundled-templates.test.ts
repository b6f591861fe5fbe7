/**
 * Golden tests for the bundled templates: a fixture event renders to an exact request, and recorded
 * answers classify to the expected outcome.
 */
import assert from 'node:assert/strict';
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
import { purchase } from './helpers.js';

const templates = loadTemplates(BUNDLED_TEMPLATES_DIR);
const now = new Date('2025-03-01T12:00:00Z');

function bundled(id: string) {
  const template = templates.get(id);
  assert.ok(template, `bundled template ${id} is missing`);
  return template;
}

test('the bundled folder holds exactly the documented templates', () => {
  assert.deepEqual([...templates.keys()].sort(), ['cake-api-v2', 'cake-pashx', 'generic-get']);
});

interface Golden {
  template: string;
  settings: Record<string, unknown>;
  clickId: string;
  sent: RenderedRequest;
  logged: RenderedRequest;
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
];

describe('golden requests', () => {
  for (const golden of goldens) {
    test(golden.template, () => {
      const template = bundled(golden.template);
      const settings = resolveSettings(template, golden.settings, `destinations[0] (${golden.template}).settings`);
      const sent = renderPostback(template, { event: purchase(), clickId: golden.clickId, settings, now });
      assert.deepEqual(sent, golden.sent);
      assert.deepEqual(redactRequest(secretSettingValues(template, settings), sent), golden.logged);
      assert.ok(template.capture.pattern.test(golden.clickId), 'the golden click ID passes the capture pattern');
    });
  }
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
