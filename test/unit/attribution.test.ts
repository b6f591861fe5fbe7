import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { captureClicks } from '../../src/attribution/capture.js';
import { dedupKeyFor } from '../../src/attribution/dedup-key.js';
import { attributeConversion, type Attribution } from '../../src/attribution/resolve.js';
import { DestinationSchema, type DestinationConfig } from '../../src/config/schema.js';
import { bindDestinations } from '../../src/destinations/destination.js';
import { BUNDLED_TEMPLATES_DIR, loadTemplates } from '../../src/destinations/index.js';
import type { RelayEvent } from '../../src/events/event.js';
import type { FoundClick } from '../../src/store/types.js';

const templates = loadTemplates(BUNDLED_TEMPLATES_DIR);
const HOUR = 3_600_000;
const NOW = Date.parse('2026-11-24T12:00:00Z');

function destinations(...configs: Array<Partial<DestinationConfig> & { id: string; template: string }>) {
  const full = configs.map((c): DestinationConfig => DestinationSchema.parse({
    mode: 'live',
    settings: c.template === 'generic-get' ? { url: 'https://t.example/pb' } : { baseUrl: 'https://c.example', offer_id: '1', api_key: 'k' },
    ...c,
  }));
  return bindDestinations(full, templates, 'test.yaml');
}

const event = (fields: Partial<RelayEvent>): RelayEvent => ({ event_name: 'page_view', params: {}, ...fields });

describe('capture', () => {
  const [cake, tracker] = destinations(
    { id: 'cake', template: 'cake-api-v2', clickParams: ['s1', 'tid'] },
    { id: 'tracker', template: 'generic-get' },
  );

  test('reads each destination\'s parameters; the first valid one wins', () => {
    const found = captureClicks(event({ page_location: 'https://shop.example/p?tid=second-choice&s1=first-choice&clickid=TRK123456' }), undefined, [cake!, tracker!], NOW);
    assert.deepEqual(found.clicks, [
      { destination: 'cake', clickId: 'first-choice', capturedAt: NOW },
      { destination: 'tracker', clickId: 'TRK123456', capturedAt: NOW },
    ]);
    assert.deepEqual(found.refused, []);
  });

  test('a refused first parameter falls through to the next valid one', () => {
    const found = captureClicks(event({ page_location: 'https://shop.example/?s1={clickid}&tid=good-click-1' }), undefined, [cake!], NOW);
    assert.deepEqual(found.clicks.map((c) => c.clickId), ['good-click-1']);
    assert.deepEqual(found.refused, []);
    assert.equal(found.notes.filter((n) => !n.accepted).length, 1);
  });

  test('refusals carry the reason: macro, length, pattern', () => {
    const cases: Array<[string, RegExp]> = [
      ['s1=%7Bclickid%7D', /never expanded/],
      [`s1=${'a'.repeat(300)}`, /300 characters long/],
      ['s1=has%20spaces%20in%20it', /does not match cake-api-v2's click-ID pattern/],
    ];
    for (const [query, reason] of cases) {
      const found = captureClicks(event({ page_location: `https://shop.example/?${query}` }), undefined, [cake!], NOW);
      assert.deepEqual(found.clicks, []);
      assert.match(found.refused[0]!.reason, reason);
    }
  });

  test('a landing parameter is decoded, the first of repeated ones counts, and a fragment is not part of it', () => {
    const found = captureClicks(event({ page_location: 'https://shop.example/?s1=abc%2D123&s1=later-one#s1=in-fragment' }), undefined, [cake!], NOW);
    assert.deepEqual(found.clicks.map((c) => c.clickId), ['abc-123']);
    const fragmentOnly = captureClicks(event({ page_location: 'https://shop.example/?utm_source=x#s1=in-fragment' }), undefined, [cake!], NOW);
    assert.deepEqual(fragmentOnly.clicks, []);
  });

  test('a pixel without page_location is read from the Referer header', () => {
    const found = captureClicks(event({}), 'https://shop.example/landing?s1=from-referer-1', [cake!], NOW);
    assert.deepEqual(found.clicks.map((c) => c.clickId), ['from-referer-1']);
  });

  test('a page without a query string costs nothing and finds nothing', () => {
    assert.deepEqual(captureClicks(event({ page_location: 'https://shop.example/cart' }), undefined, [cake!], NOW).notes, []);
  });
});

describe('attribution', () => {
  const all = destinations(
    { id: 'cake', template: 'cake-api-v2', sessionHours: 24 },
    { id: 'tracker', template: 'generic-get' },
    { id: 'own-group', template: 'generic-get', attributionGroup: 'solo' },
    { id: 'lead-only', template: 'cake-api-v2', conversionEvents: ['generate_lead'] },
  );
  const click = (destination: string, clickId: string, hoursAgo: number, via: 'visitor' | 'client' = 'visitor'): FoundClick =>
    ({ destination, clickId, capturedAt: NOW - hoursAgo * HOUR, via });
  const decide = (clicks: FoundClick[], e: Partial<RelayEvent> = {}) =>
    attributeConversion({ event: event({ event_name: 'purchase', ...e }), found: { clicks, refused: [] }, lookupGap: undefined, destinations: all, now: NOW });
  const summary = (ds: Attribution[]) =>
    Object.fromEntries(ds.map((d) => [d.destination.id, d.kind === 'send' ? `send ${d.clickId} via ${d.source}` : d.kind]));

  test('the newest click in the affiliate group wins; other groups decide for themselves', () => {
    const ds = decide([click('cake', 'CAKE-OLD-1', 5), click('tracker', 'TRACK-NEW-1', 1), click('own-group', 'SOLO-CLICK', 9)]);
    assert.deepEqual(summary(ds), { cake: 'no_click', tracker: 'send TRACK-NEW-1 via visitor', 'own-group': 'send SOLO-CLICK via visitor' });
  });

  test('a destination that does not convert on this event still takes the group when its click is newest', () => {
    const ds = decide([click('cake', 'CAKE-CLICK-1', 5), click('lead-only', 'LEAD-CLICK-1', 1)]);
    assert.equal(summary(ds).cake, 'no_click');
    assert.ok(!ds.some((d) => d.destination.id === 'lead-only'), 'lead-only does not convert on purchase');
    const cake = ds.find((d) => d.destination.id === 'cake');
    assert.match(cake!.kind === 'no_click' ? cake!.reason : '', /"lead-only"/);
  });

  test('clicks of the same millisecond: the one under the visitor cookie wins, then the destination listed first', () => {
    assert.equal(summary(decide([click('tracker', 'TRACK-1', 1, 'client'), click('cake', 'CAKE-1', 1, 'visitor')])).cake, 'send CAKE-1 via visitor');
    assert.equal(summary(decide([click('cake', 'CAKE-1', 1, 'client'), click('tracker', 'TRACK-1', 1, 'visitor')])).tracker, 'send TRACK-1 via visitor');
    assert.equal(summary(decide([click('tracker', 'TRACK-1', 1), click('cake', 'CAKE-1', 1)])).cake, 'send CAKE-1 via visitor', 'cake is listed first');
  });

  test('a click past the window is expired, with how late', () => {
    const [cake] = decide([click('cake', 'CAKE-CLICK-1', 30)]);
    assert.equal(cake!.kind, 'expired');
    assert.equal(cake!.kind === 'expired' && cake!.lateByMs, 6 * HOUR);
  });

  test('an explicit click_id goes to the group\'s newest stored destination, else the first that accepts it', () => {
    assert.equal(summary(decide([click('tracker', 'TRACK-1', 1)], { click_id: 'EXPLICIT-1' })).tracker, 'send EXPLICIT-1 via explicit');
    assert.equal(summary(decide([], { click_id: 'EXPLICIT-2' })).cake, 'send EXPLICIT-2 via explicit');
    assert.equal(summary(decide([], { click_id: 'EXPLICIT-3', params: { destination: 'tracker' } })).cake, 'send EXPLICIT-3 via explicit', 'a request field never picks the network');
  });

  test('an explicit click_id that looks like a macro is not sent', () => {
    const ds = decide([], { click_id: '{clickid}' });
    assert.ok(ds.every((d) => d.kind === 'no_click'));
  });
});

describe('dedup key', () => {
  test('destination + transaction ID; without one, destination + click + event name', () => {
    const purchase = event({ event_name: 'purchase', transaction_id: 'T-1' });
    assert.equal(dedupKeyFor('cake', purchase, 'c1', 'j1'), dedupKeyFor('cake', purchase, 'c2', 'j2'));
    assert.notEqual(dedupKeyFor('cake', purchase, 'c1', 'j1'), dedupKeyFor('tracker', purchase, 'c1', 'j1'));
    const lead = event({ event_name: 'generate_lead' });
    assert.notEqual(dedupKeyFor('cake', lead, 'c1', 'j1'), dedupKeyFor('cake', lead, 'c2', 'j2'));
    assert.notEqual(dedupKeyFor('cake', lead, 'c1', 'j1'), dedupKeyFor('cake', event({ event_name: 'sign_up' }), 'c1', 'j1'));
    assert.doesNotMatch(dedupKeyFor('cake', purchase, 'c1', 'j1'), /T-1/, 'no order ID in key names');
    assert.notEqual(dedupKeyFor('ga4', lead, '', 'j1'), dedupKeyFor('ga4', lead, '', 'j2'), 'nothing to dedup on: each job is its own');
  });
});
