import type { Redis } from 'ioredis';

/**
 * Every multi-key write is one Lua script, so it is atomic, and every script is safe to run twice:
 * ioredis re-sends a command whose reply was lost on a dropped connection.
 */
const SCRIPTS = {
  /**
   * KEYS: visitor hash. ARGV: ttlMs, number of field/value pairs, the pairs, then fields to delete.
   * Values are "capturedAt|id". The same click ID seen again (a reload, a GA4 engagement hit that
   * repeats the landing URL) keeps its first capture time: it is the same click, not a newer one.
   */
  saveVisitorClicks: {
    numberOfKeys: 1,
    lua: `
      local ttl = tonumber(ARGV[1])
      local pairs = tonumber(ARGV[2])
      local function idOf(value)
        local bar = string.find(value, '|', 1, true)
        return bar and string.sub(value, bar + 1) or value
      end
      for i = 0, pairs - 1 do
        local field, value = ARGV[3 + 2 * i], ARGV[4 + 2 * i]
        local known = redis.call('HGET', KEYS[1], field)
        if not known or string.sub(field, 1, 1) == '!' or idOf(known) ~= idOf(value) then
          redis.call('HSET', KEYS[1], field, value)
        end
      end
      for i = 3 + 2 * pairs, #ARGV do
        redis.call('HDEL', KEYS[1], ARGV[i])
      end
      if redis.call('PTTL', KEYS[1]) < ttl then
        redis.call('PEXPIRE', KEYS[1], ttl)
      end
      return 1`,
  },
  /**
   * KEYS: dedup key, job hash, outbox stream. ARGV: jobId, dedupTtlMs, jobJson, nowMs.
   * Returns false when accepted, or "firstJobId|acceptedAt" of the conversion that holds the key.
   */
  acceptConversion: {
    numberOfKeys: 3,
    lua: `
      local first = redis.call('GET', KEYS[1])
      if first then return first end
      redis.call('SET', KEYS[1], ARGV[1] .. '|' .. ARGV[4], 'PX', ARGV[2])
      redis.call('HSET', KEYS[2], 'job', ARGV[3], 'state', 'queued', 'attempts', 0)
      redis.call('PEXPIRE', KEYS[2], ARGV[2])
      redis.call('XADD', KEYS[3], '*', 'job', ARGV[1])
      return false`,
  },
  /**
   * A conversion in one round trip: reads the visitor's hashes, picks each attribution group's
   * newest click, and accepts the jobs it attributes as acceptConversion does. The rules are
   * attributeConversion's (src/attribution/resolve.ts), for an event without an explicit click ID:
   * ties go to the earlier ref (the visitor cookie), then to the destination listed first.
   * KEYS: the refs' visitor hashes, the outbox, then a dedup key and a job hash per job.
   * ARGV: refs, each ref's kind, nowMs, dedupTtlMs, then per group: its destinations (a count, then
   * the IDs in config order) and its jobs (a count, then per job: destination, windowMs,
   * withoutClick 0|1, jobId, the job's JSON up to its click fields).
   * Returns each ref's HGETALL, then per job: false when not attributed, 1 when accepted, or
   * "firstJobId|acceptedAt" of the conversion that holds its dedup key.
   */
  acceptLastTouch: {
    numberOfKeys: undefined,
    lua: `
      local refs = tonumber(ARGV[1])
      local now = ARGV[refs + 2]
      local nowMs, ttl = tonumber(now), ARGV[refs + 3]
      local out, held = {}, {}
      for r = 1, refs do
        local flat = redis.call('HGETALL', KEYS[r])
        out[r] = flat
        held[r] = {}
        for i = 1, #flat, 2 do held[r][flat[i]] = flat[i + 1] end
      end
      local outbox, key, results, settled = KEYS[refs + 1], refs + 2, {}, 0
      local a = refs + 4
      while a <= #ARGV do
        local count = tonumber(ARGV[a])
        local at, atText, clickId, ref, owner
        for r = 1, refs do
          for d = a + 1, a + count do
            local value = held[r][ARGV[d]]
            local bar = value and string.find(value, '|', 1, true)
            if bar then
              local t = tonumber(string.sub(value, 1, bar - 1))
              if t and (at == nil or t > at) then
                at, atText, clickId, ref, owner = t, string.sub(value, 1, bar - 1), string.sub(value, bar + 1), r, ARGV[d]
              end
            end
          end
        end
        a = a + count + 1
        count = tonumber(ARGV[a])
        for j = 1, count do
          local destination, window, withoutClick, jobId, head =
            ARGV[a + 1], tonumber(ARGV[a + 2]), ARGV[a + 3], ARGV[a + 4], ARGV[a + 5]
          local dedup, jobKey = KEYS[key], KEYS[key + 1]
          a, key = a + 5, key + 2
          local job
          if at == nil then
            if withoutClick == '1' then
              job = head .. ',"clickId":"","clickSource":"none","acceptedAt":' .. now .. '}'
            end
          elseif owner == destination and nowMs - at <= window then
            -- Quoted as is unless it needs escaping: cjson costs more than the rest of the job.
            local quoted = string.find(clickId, '[%c"\\\\]') and cjson.encode(clickId) or '"' .. clickId .. '"'
            job = head .. ',"clickId":' .. quoted .. ',"clickSource":"' .. ARGV[1 + ref] ..
              '","clickCapturedAt":' .. atText .. ',"acceptedAt":' .. now .. '}'
          end
          local result = false
          if job then
            result = redis.call('GET', dedup)
            if not result then
              redis.call('SET', dedup, jobId .. '|' .. now, 'PX', ttl)
              redis.call('HSET', jobKey, 'job', job, 'state', 'queued', 'attempts', 0)
              redis.call('PEXPIRE', jobKey, ttl)
              redis.call('XADD', outbox, '*', 'job', jobId)
              result = 1
            end
          end
          settled = settled + 1
          results[settled] = result
        end
        a = a + 1
      end
      out[refs + 1] = results
      return out`,
  },
  /**
   * KEYS: the job hashes of one claimed batch. Counts an attempt on each job that still exists and
   * returns three values per job: its payload (nil when the record is gone), its `since`, attempts.
   */
  loadClaimedJobs: {
    numberOfKeys: undefined,
    lua: `
      local out = {}
      for i, key in ipairs(KEYS) do
        local job = redis.call('HMGET', key, 'job', 'since')
        local at = 3 * i - 2
        out[at], out[at + 1], out[at + 2] = job[1], job[2], 0
        if job[1] then out[at + 2] = redis.call('HINCRBY', key, 'attempts', 1) end
      end
      return out`,
  },
  /** KEYS: outbox, job hash. ARGV: entryId, group, outcome, nowMs, retentionMs. */
  completeJob: {
    numberOfKeys: 2,
    lua: `
      redis.call('XACK', KEYS[1], ARGV[2], ARGV[1])
      redis.call('XDEL', KEYS[1], ARGV[1])
      if redis.call('EXISTS', KEYS[2]) == 1 then
        redis.call('HSET', KEYS[2], 'state', 'settled', 'outcome', ARGV[3], 'settledAt', ARGV[4])
        redis.call('PEXPIRE', KEYS[2], ARGV[5])
      end
      return 1`,
  },
  /** KEYS: outbox, retry zset, job hash. ARGV: entryId, group, jobId, dueAtMs, outcome, attemptAdjust. */
  retryJob: {
    numberOfKeys: 3,
    lua: `
      redis.call('ZADD', KEYS[2], ARGV[4], ARGV[3])
      redis.call('XACK', KEYS[1], ARGV[2], ARGV[1])
      redis.call('XDEL', KEYS[1], ARGV[1])
      redis.call('HSET', KEYS[3], 'state', 'retrying', 'outcome', ARGV[5], 'dueAt', ARGV[4])
      if ARGV[6] ~= '0' then redis.call('HINCRBY', KEYS[3], 'attempts', ARGV[6]) end
      return 1`,
  },
  /**
   * KEYS: outbox, dead stream, job hash. ARGV: entryId, group, jobId, outcome, reason, nowMs, minDeadId.
   * The dead stream is trimmed by age only, never by count.
   */
  deadLetterJob: {
    numberOfKeys: 3,
    lua: `
      redis.call('XACK', KEYS[1], ARGV[2], ARGV[1])
      redis.call('XDEL', KEYS[1], ARGV[1])
      if redis.call('EXISTS', KEYS[3]) == 0 then return 0 end
      local entry = redis.call('XADD', KEYS[2], 'MINID', '~', ARGV[7], '*', 'job', ARGV[3])
      redis.call('HSET', KEYS[3], 'state', 'dead', 'outcome', ARGV[4], 'reason', ARGV[5],
        'deadAt', ARGV[6], 'deadEntry', entry)
      return 1`,
  },
  /** KEYS: job hash, outbox, dead stream. ARGV: jobId, nowMs. 1 when queued again, 0 when not dead. */
  replayJob: {
    numberOfKeys: 3,
    lua: `
      if redis.call('HGET', KEYS[1], 'state') ~= 'dead' then return 0 end
      local entry = redis.call('HGET', KEYS[1], 'deadEntry')
      if entry then redis.call('XDEL', KEYS[3], entry) end
      redis.call('HSET', KEYS[1], 'state', 'queued', 'attempts', 0, 'since', ARGV[2])
      redis.call('HDEL', KEYS[1], 'deadEntry')
      redis.call('XADD', KEYS[2], '*', 'job', ARGV[1])
      return 1`,
  },
  /**
   * KEYS: dedup key, job hash, outbox. ARGV: jobId, dedupTtlMs, jobJson, acceptedAtMs.
   * Returns 'known', 'duplicate' (the key belongs to another job) or 'restored'. A dedup key that
   * names this job means it was accepted and its record expired after settling: known, never re-sent.
   * The accept script writes key and record together, so a store that lost one lost both.
   */
  restoreJob: {
    numberOfKeys: 3,
    lua: `
      if redis.call('EXISTS', KEYS[2]) == 1 then return 'known' end
      local owner = redis.call('GET', KEYS[1])
      if owner then
        if string.sub(owner, 1, string.len(ARGV[1]) + 1) == ARGV[1] .. '|' then return 'known' end
        return 'duplicate'
      end
      redis.call('SET', KEYS[1], ARGV[1] .. '|' .. ARGV[4], 'PX', ARGV[2])
      redis.call('HSET', KEYS[2], 'job', ARGV[3], 'state', 'queued', 'attempts', 0)
      redis.call('PEXPIRE', KEYS[2], ARGV[2])
      redis.call('XADD', KEYS[3], '*', 'job', ARGV[1])
      return 'restored'`,
  },
  /** KEYS: retry zset, outbox. ARGV: nowMs, limit. Moves due jobs back into the stream. */
  promoteDue: {
    numberOfKeys: 2,
    lua: `
      local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
      for _, id in ipairs(due) do
        redis.call('ZREM', KEYS[1], id)
        redis.call('XADD', KEYS[2], '*', 'job', id)
      end
      return #due`,
  },
} as const;

export type ScriptArg = string | number;

export interface RelayScripts {
  saveVisitorClicks(key: string, ...args: ScriptArg[]): Promise<number>;
  acceptConversion(dedup: string, job: string, outbox: string, ...args: ScriptArg[]): Promise<string | null>;
  acceptLastTouch(numberOfKeys: number, ...keysThenArgs: ScriptArg[]): Promise<[...refs: string[][], results: Array<string | number | null>]>;
  loadClaimedJobs(numberOfKeys: number, ...jobs: string[]): Promise<Array<string | number | null>>;
  completeJob(outbox: string, job: string, ...args: ScriptArg[]): Promise<number>;
  retryJob(outbox: string, retry: string, job: string, ...args: ScriptArg[]): Promise<number>;
  deadLetterJob(outbox: string, dead: string, job: string, ...args: ScriptArg[]): Promise<number>;
  replayJob(job: string, outbox: string, dead: string, ...args: ScriptArg[]): Promise<number>;
  restoreJob(dedup: string, job: string, outbox: string, ...args: ScriptArg[]): Promise<'known' | 'duplicate' | 'restored'>;
  promoteDue(retry: string, outbox: string, ...args: ScriptArg[]): Promise<number>;
}

/** Registers the scripts on a connection (EVALSHA, with EVAL when the server lost its cache). */
export function withScripts(redis: Redis): Redis & RelayScripts {
  for (const [name, definition] of Object.entries(SCRIPTS)) {
    redis.defineCommand(name, { numberOfKeys: definition.numberOfKeys, lua: definition.lua });
  }
  return redis as Redis & RelayScripts;
}
