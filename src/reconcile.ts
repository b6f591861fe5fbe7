import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { loadConfig } from './config/load.js';
import { createLogger } from './log.js';
import { createRedisStore } from './store/redis/index.js';
import type { ConversionJob, JobState } from './store/types.js';

/**
 * Reconciliation: reads the audit trail (the `conversion.accepted` log lines, e.g. exported from
 * Cloud Logging as JSON lines) and checks every accepted conversion against Redis. A job Redis no
 * longer knows (lost in a failover or a restore) is re-created and queued through the same
 * idempotent dedup key; running it twice changes nothing. Prints one JSON summary.
 *
 *   npm run reconcile -- audit.jsonl        (or pipe the lines in on stdin)
 */
interface AuditLine {
  message?: string;
  dedup_key?: string;
  job?: ConversionJob;
}

async function main(): Promise<void> {
  const config = loadConfig();
  if (!config.redisUrl) {
    throw new Error('reconcile needs REDIS_URL: the embedded memory store keeps nothing to reconcile');
  }
  const logger = createLogger('warn');
  const store = createRedisStore(config.redisUrl, { logMaxEntries: config.file.postbackLog.maxEntries, log: logger });
  const dedupTtlMs = config.file.dedupDays * 86_400_000;
  const path = process.argv[2];
  // Read before the lines are: a readline interface that waits for an await loses its lines.
  const queued = await store.outbox.queuedJobIds();
  const lines = createInterface({ input: path && path !== '-' ? createReadStream(path) : process.stdin, crlfDelay: Infinity });

  const counts: Record<JobState | 'restored' | 'duplicate' | 'unreadable', number> = {
    queued: 0, retrying: 0, settled: 0, dead: 0, restored: 0, duplicate: 0, unreadable: 0,
  };
  const restored: string[] = [];
  const dead: string[] = [];
  for await (const text of lines) {
    const line = parse(text);
    if (line?.message !== 'conversion.accepted') continue;
    if (!line.job?.id || !line.dedup_key) {
      counts.unreadable += 1;
      continue;
    }
    // A job queued since its acceptance has no record on Redis: its outbox entry says it is pending.
    const state = (await store.outbox.state(line.job.id)) ?? (queued.has(line.job.id) ? 'queued' : undefined);
    if (state) {
      counts[state] += 1;
      if (state === 'dead') dead.push(line.job.id);
      continue;
    }
    const outcome = await store.outbox.restore(line.job, line.dedup_key, dedupTtlMs);
    if (outcome === 'restored') {
      counts.restored += 1;
      restored.push(line.job.id);
    } else if (outcome === 'duplicate') {
      counts.duplicate += 1;
    } else {
      counts.settled += 1;
    }
  }
  await store.close();
  process.stdout.write(
    `${JSON.stringify({ checked: Object.values(counts).reduce((a, b) => a + b, 0), ...counts, restored_jobs: restored, dead_jobs: dead }, null, 2)}\n`,
  );
}

function parse(text: string): AuditLine | undefined {
  try {
    return JSON.parse(text) as AuditLine;
  } catch {
    return undefined;
  }
}

main().catch((err: Error) => {
  process.stderr.write(`reconcile: ${err.message}\n`);
  process.exit(1);
});
