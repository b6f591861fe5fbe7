import assert from 'node:assert/strict';
import { test } from 'node:test';
import { redactRequest, renderPostback, secretSettingValues } from '../../../src/destinations/index.js';
import { minimalTemplate, purchase, templateFromYaml } from './helpers.js';

test('every form of every secret is redacted, and Authorization headers whole', (t) => {
  const template = templateFromYaml(
    t,
    minimalTemplate(
      [
        '  method: POST',
        '  url: "https://api.example.com/{settings.path_key}/conversions"',
        '  query: { key: "{settings.api_key}", offer: "{settings.offer}" }',
        '  headers:',
        '    Authorization: "Basic {settings.basic}"',
        '    X-Api-Key: "{settings.api_key}"',
        '  json: { token: "{settings.api_key}", click: "{click_id}", note: "{event.note}" }',
      ].join('\n'),
      [
        '  api_key: { required: true, secret: true }',
        '  path_key: { required: true, secret: true }',
        '  basic: { required: true, secret: true }',
        '  offer: { required: true }',
      ].join('\n'),
    ),
  );
  const settings = { api_key: 'a b/c+d"e', path_key: 'p/q r', basic: 'dXNlcjpwdw==', offer: '17' };
  const request = renderPostback(template, { event: purchase({ params: { note: 'n' } }), clickId: 'C1', settings });
  const shown = redactRequest(secretSettingValues(template, settings), request);
  assert.deepEqual(shown, {
    method: 'POST',
    url: 'https://api.example.com/<redacted>/conversions?key=<redacted>&offer=17',
    headers: { Authorization: '<redacted>', 'X-Api-Key': '<redacted>', 'Content-Type': 'application/json' },
    body: '{"token":"<redacted>","click":"C1","note":"n"}',
  });
  const text = JSON.stringify(shown);
  for (const secret of Object.values(settings).filter((value) => value !== '17')) {
    assert.ok(!text.includes(secret) && !text.includes(encodeURIComponent(secret)), `${secret} leaked`);
  }
});

test('a request without secrets is returned unchanged', (t) => {
  const template = templateFromYaml(t, minimalTemplate('  url: "https://example.com/pb"\n  query: { cid: "{click_id}" }'));
  const request = renderPostback(template, { event: purchase(), clickId: 'C1', settings: {} });
  assert.deepEqual(redactRequest(secretSettingValues(template, {}), request), request);
});
