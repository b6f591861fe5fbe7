import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { loadTemplateFile, type Template } from '../../../src/destinations/index.js';
import type { RelayEvent } from '../../../src/events/event.js';

/** Loads a template written inline, through the same loader as real files. */
export function templateFromYaml(t: TestContext, yaml: string, id = 'inline'): Template {
  const dir = mkdtempSync(join(tmpdir(), 'relay-template-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, `${id}.yaml`);
  writeFileSync(path, yaml);
  return loadTemplateFile(path);
}

export function purchase(overrides: Partial<RelayEvent> = {}): RelayEvent {
  return {
    event_name: 'purchase',
    transaction_id: 'ORD-1001',
    value: 49.9,
    currency: 'usd',
    client_id: '1234567890.1700000000',
    params: {},
    ...overrides,
  };
}

/** A minimal affiliate template; `request` is the YAML of the request block, indented by two. */
export function minimalTemplate(request: string, settings = ''): string {
  return [
    'name: Test',
    'kind: affiliate',
    'verified: false',
    'capture: { params: [clickid], pattern: "[A-Za-z0-9]+" }',
    settings === '' ? '' : `settings:\n${settings}`,
    'request:',
    request,
  ].join('\n');
}
