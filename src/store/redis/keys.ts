/**
 * Redis key layout. Everything the accept script touches shares the `{rl}` hash tag, so the script
 * runs on Redis Cluster too; visitor hashes carry their own tag, so they spread across shards.
 */
export const KEY_PREFIX = 'rl:';

export const keys = {
  visitor: (id: string) => `${KEY_PREFIX}v:{${id}}`,
  outbox: `${KEY_PREFIX}{rl}:outbox`,
  retry: `${KEY_PREFIX}{rl}:retry`,
  log: `${KEY_PREFIX}{rl}:log`,
  dead: `${KEY_PREFIX}{rl}:dead`,
  job: (id: string) => `${KEY_PREFIX}{rl}:job:${id}`,
  dedup: (hash: string) => `${KEY_PREFIX}{rl}:dedup:${hash}`,
};

export const CONSUMER_GROUP = 'relay';
