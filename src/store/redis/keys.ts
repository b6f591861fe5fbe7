/**
 * Redis key layout. The relay's own records share the `{rl}` hash tag and visitor hashes carry
 * their own; the one-step conversion script (acceptLastTouch) reads a visitor's hash and writes the
 * outbox together, so the relay runs on one Redis endpoint, not on a cluster.
 */
export const KEY_PREFIX = 'rl:';

export const keys = {
  visitor: (id: string) => `${KEY_PREFIX}v:{${id}}`,
  /** The delivery queue: a stream whose entries carry their jobs (scripts.ts). */
  outbox: `${KEY_PREFIX}{rl}:queue`,
  /**
   * The queue of versions before jobs rode in their entries: an entry names its job, whose JSON is
   * in its record. A worker moves what it finds there into `outbox` (adoptLegacyJobs), so the two
   * versions can run side by side during a rollout; this version never writes to it.
   */
  legacyOutbox: `${KEY_PREFIX}{rl}:outbox`,
  retry: `${KEY_PREFIX}{rl}:retry`,
  log: `${KEY_PREFIX}{rl}:log`,
  dead: `${KEY_PREFIX}{rl}:dead`,
  job: (id: string) => `${KEY_PREFIX}{rl}:job:${id}`,
  dedup: (hash: string) => `${KEY_PREFIX}{rl}:dedup:${hash}`,
};

export const CONSUMER_GROUP = 'relay';
