import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createMetrics } from '../../src/metrics.js';

test('metrics: counts made between scrapes appear in the exposition, per label set', async () => {
  const metrics = createMetrics(async () => 7);
  metrics.events('ga4').inc();
  metrics.events('ga4').inc();
  metrics.events('data').inc();
  metrics.conversions('cake', 'accepted').inc();
  let text = await metrics.registry.metrics();
  assert.match(text, /^relay_events_total\{client="ga4"\} 2$/m);
  assert.match(text, /^relay_events_total\{client="data"\} 1$/m);
  assert.match(text, /^relay_conversions_total\{destination="cake",decision="accepted"\} 1$/m);
  assert.match(text, /^relay_outbox_backlog 7$/m);
  // A second scrape reports totals, not the change since the first.
  metrics.events('ga4').inc();
  text = await metrics.registry.metrics();
  assert.match(text, /^relay_events_total\{client="ga4"\} 3$/m);
  assert.doesNotMatch(text, /relay_postbacks_total\{/);
});
