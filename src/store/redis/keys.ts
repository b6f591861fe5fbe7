/**
 * Redis key layout. The relay's own records share the `{rl}` hash tag and visitor hashes carry
 * their own; the one-step conversion script (acceptLastTouch) reads a visitor's hash and writes the
 * outbox together, so the relay runs on one Redis endpoint, not on a cluster.
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
