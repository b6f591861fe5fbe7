import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { Browser } from '../helpers/browser.js';
import { startRedis, type RedisServer } from '../helpers/redis-server.js';
import { cakeDestination, startRelay } from '../helpers/relay.js';
import { CAKE_SUCCESS, Sink } from '../helpers/sink.js';

const run = promisify(execFile);
const RECONCILE = join(import.meta.dirname, '..', '..', 'dist', 'src', 'reconcile.js');

let redis: RedisServer;
before(async () => {
  redis = await startRedis();
});
after(async () => {
  await redis.stop();
});

test('reconcile re-creates jobs Redis lost from the audit trail, once, and never re-sends settled ones', async (t) => {
  let down = false;
  const sink = await new Sink(() => (down ? { status: 503 } : CAKE_SUCCESS)).start();
  t.after(() => sink.stop());
  const config = { destinations: [cakeDestination(sink.baseUrl, { retry: { delaysSeconds: [3600], maxAgeHours: 2 } })] };
  const relay = await startRelay(t, { redisUrl: redis.url, config });
  const browser = new Browser(relay.url);
  await browser.purchase('REC-DELIVERED-1', { click_id: 'click-rec-0001' });
  await browser.purchase('REC-DELIVERED-2', { click_id: 'click-rec-0002' });
  await sink.waitFor(2);
  down = true;
  await browser.purchase('REC-LOST-1', { click_id: 'click-rec-0003' });
  await browser.purchase('REC-LOST-2', { click_id: 'click-rec-0004' });
  const direct = new Redis(redis.url);
  t.after(() => direct.disconnect());
  while ((await direct.zcard('rl:{rl}:retry')) < 2) await new Promise((r) => setTimeout(r, 20));

  // A failover that lost the two pending jobs: their records, dedup keys and retry entries are gone.
  const audit = relay.logLines.filter((l) => l.includes('"message":"conversion.accepted"'));
  assert.equal(audit.length, 4);
  for (const line of audit) {
    const { job, dedup_key } = JSON.parse(line) as { job: { id: string; event: { transaction_id: string } }; dedup_key: string };
    if (!job.event.transaction_id.startsWith('REC-LOST')) continue;
    await direct.del(`rl:{rl}:job:${job.id}`, `rl:{rl}:dedup:${dedup_key}`);
    await direct.zrem('rl:{rl}:retry', job.id);
  }
  const dir = mkdtempSync(join(tmpdir(), 'relay-audit-'));
  const auditFile = join(dir, 'accepted.jsonl');
  writeFileSync(auditFile, [...audit, 'not json', '{"message":"postback.attempt"}'].join('\n'));
  const configFile = join(dir, 'relay.yaml');
  writeFileSync(configFile, 'destinations: []\n');
  const env = { PATH: process.env.PATH, REDIS_URL: redis.url, RELAY_CONFIG: configFile };

  down = false;
  const before = sink.requests.length;
  const first = JSON.parse((await run(process.execPath, [RECONCILE, auditFile], { env })).stdout) as Record<string, unknown>;
  assert.equal(first.checked, 4);
  assert.equal(first.settled, 2);
  assert.equal(first.restored, 2);
  await sink.waitFor(before + 2);
  const lost = sink.requests.slice(before);
  assert.deepEqual(lost.map((r) => r.url.searchParams.get('unique_id')).sort(), ['REC-LOST-1', 'REC-LOST-2']);

  const second = JSON.parse((await run(process.execPath, [RECONCILE, auditFile], { env })).stdout) as Record<string, unknown>;
  assert.equal(second.restored, 0, 'a second run changes nothing');
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(sink.requests.length, before + 2, 'nothing was sent twice');

  const noRedis = await run(process.execPath, [RECONCILE, auditFile], { env: { PATH: process.env.PATH, RELAY_CONFIG: configFile } }).catch((e: { stderr: string }) => e);
  assert.match((noRedis as { stderr: string }).stderr, /reconcile needs REDIS_URL/);
});
