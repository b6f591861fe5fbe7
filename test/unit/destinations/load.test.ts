import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { BUNDLED_TEMPLATES_DIR, loadTemplateFile, loadTemplates } from '../../../src/destinations/index.js';
import { ConfigError } from '../../../src/errors.js';

const INVALID_DIR = fileURLToPath(new URL('../../fixtures/templates/invalid/', import.meta.url));

/** Each fixture states, in `# expect-error:` comment lines, the text its error must contain. */
function expectedErrors(path: string): string[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => line.startsWith('# expect-error:'))
    .map((line) => line.slice('# expect-error:'.length).trim());
}

describe('invalid templates are refused with a teaching message', () => {
  const fixtures = readdirSync(INVALID_DIR).filter((name) => name.endsWith('.yaml'));
  test('there are fixtures to check', () => assert.ok(fixtures.length >= 5));
  for (const name of fixtures) {
    test(name, () => {
      const path = join(INVALID_DIR, name);
      const expected = expectedErrors(path);
      assert.ok(expected.length > 0, `${name} has no "# expect-error:" line`);
      assert.throws(
        () => loadTemplateFile(path),
        (error: unknown) => {
          assert.ok(error instanceof ConfigError);
          assert.equal(error.code, 'RELAY_TEMPLATE_INVALID');
          assert.ok(error.message.includes(path), 'the message names the file');
          for (const text of expected) assert.ok(error.message.includes(text), `expected "${text}" in:\n${error.message}`);
          return true;
        },
      );
    });
  }
});

function scratchDir(t: { after: (fn: () => void) => void }, files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'relay-templates-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

const VALID = readFileSync(join(BUNDLED_TEMPLATES_DIR, 'generic-get.yaml'), 'utf8');

test('loadTemplates keys templates by file name', (t) => {
  const dir = scratchDir(t, { 'my-tracker.yaml': VALID, 'notes.txt': 'ignored' });
  const templates = loadTemplates(dir);
  assert.deepEqual([...templates.keys()], ['my-tracker']);
  assert.equal(templates.get('my-tracker')?.id, 'my-tracker');
});

test('loadTemplates reports every bad file in one error', (t) => {
  const dir = scratchDir(t, {
    'good.yaml': VALID,
    'bad-one.yaml': VALID.replace("'{click_id}'", "'{clik_id}'"),
    'bad-two.yaml': VALID.replace('outcome: retry', 'outcome: retrying'),
    'old.yml': VALID,
  });
  assert.throws(
    () => loadTemplates(dir),
    (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.match(error.message, /bad-one\.yaml has 1 problem:\n {2}- request\.query\.\{settings\.click_param\}: \{clik_id\} is not a known variable — did you mean \{click_id\}\?/);
      assert.match(error.message, /bad-two\.yaml has 1 problem:\n {2}- response\[0\]\.outcome: "retrying" is not one of .* — did you mean retry\?/);
      assert.match(error.message, /old\.yml has 1 problem:\n {2}- template files end in \.yaml/);
      assert.doesNotMatch(error.message, /good\.yaml/);
      return true;
    },
  );
});

test('a file name that cannot be a template id is refused', (t) => {
  const dir = scratchDir(t, { 'My Tracker.yaml': VALID });
  assert.throws(() => loadTemplates(dir), /the file name is the template id/);
});

test('a missing folder is a ConfigError', () => {
  assert.throws(() => loadTemplates('/nonexistent/templates'), (error: unknown) => error instanceof ConfigError && /cannot read the templates folder/.test(error.message));
});

test('the bundled folder is found from the source tree', () => {
  assert.match(BUNDLED_TEMPLATES_DIR, /[/\\]templates[/\\]destinations$/);
});

test('a compiled template carries defaults and anchored patterns', () => {
  const template = loadTemplateFile(join(BUNDLED_TEMPLATES_DIR, 'cake-pashx.yaml'));
  assert.equal(template.request.timeoutMs, 8000);
  assert.equal(template.capture.maxLength, 256);
  assert.ok(template.capture.pattern.test('25566'));
  assert.ok(!template.capture.pattern.test('25566x'));
  const offer = template.settings.get('offer_id');
  assert.ok(offer?.pattern && !offer.pattern.test('17 OR 1'), 'setting patterns match the whole value');
});
