import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadConfig } from '../../src/config/load.js';
import { assertSharedCookieSecret } from '../../src/startup.js';
import { bindDestinations } from '../../src/destinations/destination.js';
import { BUNDLED_TEMPLATES_DIR, loadTemplates } from '../../src/destinations/index.js';

function configFile(text: string, name = 'relay.yaml'): string {
  const path = join(mkdtempSync(join(tmpdir(), 'relay-config-test-')), name);
  writeFileSync(path, text);
  return path;
}

const CAKE = `
destinations:
  - id: cake
    template: cake-api-v2
    mode: live
    sessionHours: 0.5
    settings:
      baseUrl: https://demo.cakemarketing.com
      offer_id: 42
      api_key: \${CAKE_API_KEY}
`;

test('with nothing set: the bundled example config, the memory store, a generated cookie secret', () => {
  const config = loadConfig({});
  assert.equal(config.port, 8080);
  assert.equal(config.redisUrl, undefined);
  assert.equal(config.usingBundledExample, true);
  assert.equal(config.cookieSecretGenerated, true);
  assert.equal(config.adminToken, undefined);
  assert.match(config.configPath, /deploy\/relay\.example\.yaml$/);
  const destinations = bindDestinations(config.file.destinations, loadTemplates(BUNDLED_TEMPLATES_DIR), config.configPath);
  assert.ok(destinations.length > 0);
  assert.ok(destinations.every((d) => d.mode === 'dry_run'), 'the example never sends');
});

test('${NAME} is replaced from the environment, and the value is remembered as a secret', () => {
  const config = loadConfig({ RELAY_CONFIG: configFile(CAKE), CAKE_API_KEY: 'k-123456' });
  assert.equal(config.file.destinations[0]!.settings.api_key, 'k-123456');
  assert.deepEqual(config.secretValues, ['k-123456']);
  assert.equal(config.file.destinations[0]!.sessionHours, 0.5, 'fractional session hours are allowed');
});

test('JSON config files are read too', () => {
  const path = configFile(JSON.stringify({ destinations: [] }), 'relay.json');
  assert.deepEqual(loadConfig({ RELAY_CONFIG: path }).file.destinations, []);
});

const failures: Array<[string, Record<string, string>, string | undefined, RegExp]> = [
  ['a missing env var', {}, CAKE, /destinations\.0\.settings\.api_key: environment variable CAKE_API_KEY is not set/],
  ['a bad PORT', { PORT: 'eighty' }, undefined, /PORT/],
  ['a non-redis REDIS_URL', { REDIS_URL: 'http://x' }, undefined, /redis:\/\/ or rediss:\/\//],
  ['a short cookie secret', { RELAY_COOKIE_SECRET: 'long-enough-secret-123,short' }, undefined, /entry 2 is shorter than 16/],
  ['a short admin token', { RELAY_ADMIN_TOKEN: 'abc' }, undefined, /RELAY_ADMIN_TOKEN/],
  ['an unknown LOG_LEVEL', { LOG_LEVEL: 'loud' }, undefined, /LOG_LEVEL/],
  ['a zero session window', {}, 'destinations: [{id: a, template: generic-get, sessionHours: 0}]', /sessionHours/],
  ['a misspelt key', {}, 'destinatons: []', /destinatons/],
  ['a duplicate destination id', {}, 'destinations: [{id: a, template: x}, {id: a, template: y}]', /"a" is used more than once/],
  ['a cookie older than 400 days', {}, 'cookie: {maxAgeDays: 500}', /maxAgeDays/],
  ['broken YAML', {}, 'destinations: [', /not valid YAML or JSON/],
  ['a missing file', { RELAY_CONFIG: '/nonexistent/relay.yaml' }, undefined, /cannot read the config file/],
];

for (const [name, env, file, message] of failures) {
  test(`startup fails clearly on ${name}`, () => {
    const fullEnv = { ...(file !== undefined ? { RELAY_CONFIG: configFile(file) } : {}), ...env };
    assert.throws(() => loadConfig(fullEnv), (err: Error) => {
      assert.match(err.message, message);
      return true;
    });
  });
}

test('binding: an unknown template and a bad setting are both reported, secrets never shown', () => {
  const path = configFile(`
destinations:
  - {id: a, template: cake-api-v3}
  - {id: b, template: cake-api-v2, settings: {baseUrl: 'not a url', offer_id: 1, api_key: sup3r-s3cret}}
`);
  const config = loadConfig({ RELAY_CONFIG: path });
  assert.throws(
    () => bindDestinations(config.file.destinations, loadTemplates(BUNDLED_TEMPLATES_DIR), path),
    (err: Error) => {
      assert.match(err.message, /destinations\[0\] \(a\)\.template: no template "cake-api-v3"/);
      assert.match(err.message, /destinations\[1\] \(b\)\.settings\.baseUrl/);
      assert.ok(!err.message.includes('sup3r-s3cret'));
      return true;
    },
  );
});

test('with Redis, instances must share a cookie secret: startup refuses a generated one', () => {
  const shared = loadConfig({ REDIS_URL: 'redis://127.0.0.1:1', RELAY_COOKIE_SECRET: 'shared-secret-0123456789' });
  assert.doesNotThrow(() => assertSharedCookieSecret(shared, true));
  const missing = loadConfig({ REDIS_URL: 'redis://127.0.0.1:1' });
  assert.throws(() => assertSharedCookieSecret(missing, true), /RELAY_COOKIE_SECRET is required with REDIS_URL/);
  assert.doesNotThrow(() => assertSharedCookieSecret(missing, false), 'a delivery-only worker sets no cookies');
  assert.doesNotThrow(() => assertSharedCookieSecret(loadConfig({}), true), 'one process on the memory store may generate its own');
});

test('startup compiles only the templates the config names, and a misspelt one is named with the fix', () => {
  const only = loadTemplates(BUNDLED_TEMPLATES_DIR, new Set(['cake-pashx']));
  assert.deepEqual([...only.keys()], ['cake-pashx']);
  assert.throws(() => loadTemplates(BUNDLED_TEMPLATES_DIR, new Set(['cake-api-v3'])), /no template "cake-api-v3".*did you mean cake-api-v2\?/);
});
