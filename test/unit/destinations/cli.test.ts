/**
 * The template tool, run in-process through runCli: what it prints, and that every mistake an
 * operator can make ends with a message and exit code 2. It never sends anything.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runCli } from '../../../src/destinations/cli.js';

const now = () => new Date('2025-03-01T12:00:00Z');
const INVALID_DIR = fileURLToPath(new URL('../../fixtures/templates/invalid/', import.meta.url));

function run(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = runCli(argv, { out: (line) => out.push(line), err: (line) => err.push(line) }, { now });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

const EVENT = '{"transaction_id":"ORD-1001","value":49.9,"currency":"usd"}';

describe('render', () => {
  test('prints the exact request, secrets shown, on stdout only', () => {
    const result = run('render', 'cake-api-v2', '--settings', 'baseUrl=https://demo.cakemarketing.com,offer_id=42,api_key=k3y', '--event', EVENT, '--click-id', 'a1b2c3d4-e5f6');
    assert.equal(result.code, 0, result.err);
    assert.equal(
      result.out,
      'GET https://demo.cakemarketing.com/api/2/conversion.json?api_key=k3y&click_id=a1b2c3d4-e5f6&offer_id=42&unique_id=ORD-1001&order_id=ORD-1001&revenue=49.90',
    );
    assert.match(result.err, /nothing was sent/);
  });

  test('--redact hides secrets and Authorization as the logs do; JSON settings; headers and body', () => {
    const settings = JSON.stringify({ account_sid: 'IRab12CD34ef', auth_token: 'tok', campaign_id: 1000, action_tracker_id: 2000 });
    const result = run('render', 'impact', '--settings', settings, '--event', EVENT, '--click-id', 'QiiWXOVnrQ3SQHl24jQjyxBGUkmzfJ3i1VHrWM0', '--redact');
    assert.equal(result.code, 0, result.err);
    assert.deepEqual(result.out.split('\n'), [
      'POST https://api.impact.com/Advertisers/IRab12CD34ef/Conversions',
      'Accept: application/json',
      'Content-Type: application/x-www-form-urlencoded',
      'Authorization: <redacted>',
      '',
      'CampaignId=1000&ActionTrackerId=2000&EventDate=2025-03-01T12%3A00%3A00.000Z&OrderId=ORD-1001' +
        '&ClickId=QiiWXOVnrQ3SQHl24jQjyxBGUkmzfJ3i1VHrWM0&Amount=49.90&CurrencyCode=USD',
    ]);
  });

  test('event keys that are not event fields become params; --click-time feeds {click_time}', () => {
    const event = '{"transaction_id":"ORD-1","value":"10","currency":"EUR","fbp":"fb.1.1.2"}';
    const result = run('render', 'meta-capi', '--settings', 'pixel_id=1234567890,access_token=EAA', '--event', event, '--click-id', 'IwAR2xyz_ABC', '--click-time', '2025-02-28T09:30:00Z');
    assert.equal(result.code, 0, result.err);
    assert.match(result.out, /"fbc":"fb\.1\.1740735000000\.IwAR2xyz_ABC","fbp":"fb\.1\.1\.2"/);
    assert.match(result.out, /"value":10,"currency":"EUR"/);
  });

  test('a click ID the relay would not capture is rendered with a note', () => {
    const result = run('render', 'cake-pashx', '--settings', 'domain=track.example.com,offer_id=17', '--event', EVENT, '--click-id', 'abc');
    assert.equal(result.code, 0);
    assert.match(result.err, /would not capture "abc"/);
  });

  const failures: Array<{ name: string; argv: string[]; message: RegExp }> = [
    { name: 'unknown template', argv: ['render', 'cake-pash', '--event', EVENT], message: /no template "cake-pash" — did you mean cake-pashx\?/ },
    { name: 'bad event JSON', argv: ['render', 'cake-pashx', '--event', '{"value":'], message: /--event is not valid JSON/ },
    { name: 'event not an object', argv: ['render', 'cake-pashx', '--event', '[1]'], message: /--event must be a JSON object/ },
    { name: 'value not a number', argv: ['render', 'cake-pashx', '--event', '{"value":"ten"}'], message: /value must be a number/ },
    { name: 'no event', argv: ['render', 'cake-pashx', '--settings', 'domain=a.com,offer_id=1'], message: /--event is required/ },
    { name: 'missing settings', argv: ['render', 'cake-pashx', '--event', EVENT, '--click-id', '25566'], message: /--settings\.domain is required/ },
    { name: 'unknown setting', argv: ['render', 'cake-pashx', '--settings', 'domian=a.com,offer_id=1', '--event', EVENT], message: /--settings\.domian is not a setting of template cake-pashx — did you mean domain\?/ },
    { name: 'bad key=value', argv: ['render', 'cake-pashx', '--settings', 'domain', '--event', EVENT], message: /"domain" is not key=value/ },
    { name: 'missing click ID', argv: ['render', 'cake-pashx', '--settings', 'domain=a.com,offer_id=1', '--event', EVENT], message: /required variable \{click_id\} is missing/ },
    { name: 'unknown option', argv: ['render', 'cake-pashx', '--evnt', EVENT], message: /Unknown option '--evnt'/ },
    { name: 'unknown command', argv: ['rendr'], message: /unknown command "rendr" — did you mean render\?/ },
    { name: 'no command', argv: [], message: /no command given/ },
  ];
  for (const failure of failures) {
    test(`exit 2: ${failure.name}`, () => {
      const result = run(...failure.argv);
      assert.equal(result.code, 2);
      assert.match(result.err, failure.message);
      assert.equal(result.out, '');
    });
  }

  test('a secret never appears in an error message', () => {
    const result = run('render', 'cake-api-v2', '--settings', 'baseUrl=https://demo.cakemarketing.com,offer_id=42,api_key={k3y}', '--event', EVENT);
    assert.equal(result.code, 2);
    assert.doesNotMatch(result.err, /k3y/);
  });
});

describe('list and validate', () => {
  test('list shows id, name, kind, verified and required settings', () => {
    const result = run('list');
    assert.equal(result.code, 0);
    const lines = result.out.split('\n');
    assert.match(lines[0] ?? '', /^ID +NAME +KIND +VERIFIED +REQUIRED SETTINGS$/);
    assert.ok(lines.some((line) => /^impact +impact\.com +affiliate +no +account_sid, auth_token, campaign_id, action_tracker_id$/.test(line)));
    assert.ok(lines.some((line) => /^meta-capi +Meta Conversions API +platform +no +pixel_id, access_token$/.test(line)));
    assert.equal(lines.length, 23);
  });

  test('validate passes the bundled folder', () => {
    const result = run('validate');
    assert.equal(result.code, 0);
    assert.match(result.out, /^22 templates in .* are valid: awin, bemob/);
  });

  test('validate reports every problem in a folder with exit code 1', () => {
    const result = run('validate', INVALID_DIR);
    assert.equal(result.code, 1);
    assert.match(result.err, /bad-auth-type\.yaml has 1 problem/);
    assert.match(result.err, /signature-without-secret\.yaml has 1 problem/);
  });

  test('validate of a missing folder is exit code 2', (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'relay-cli-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'x.yaml'), 'name: x');
    assert.equal(run('validate', join(dir, 'nope')).code, 2);
    assert.equal(run('validate', dir).code, 1);
  });
});
