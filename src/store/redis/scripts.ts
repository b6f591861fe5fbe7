import type { Redis } from 'ioredis';

/**
 * The loop of the scripts that take segments (turn-batch.ts). Per segment, ARGV holds the count of
 * its arguments, the count of its keys, then its own arguments; eachSegment(firstKey, run) calls
 * run(key, first, last) with the index of the segment's first key and of its first and last own
 * arguments, and answers run's result per segment, or {"error", message} where run raised one: a
 * key of another type, a malformed stored value. That segment fails alone; what it wrote before
 * the error stays, as Redis does not roll a script back.
 */
const EACH_SEGMENT = `
      local function eachSegment(firstKey, run)
        local replies, arg, key = {}, 1, firstKey
        while arg <= #ARGV do
          local last = arg + tonumber(ARGV[arg])
          local ok, result = pcall(run, key, arg + 2, last)
          if ok then replies[#replies + 1] = result
          else replies[#replies + 1] = { 'error', type(result) == 'table' and result.err or tostring(result) } end
          key = key + tonumber(ARGV[arg + 1])
          arg = last + 1
        end
        return replies
      end
`;

/**
 * Every multi-key write is one Lua script, so it is atomic, and every script is safe to run twice:
 * ioredis re-sends a command whose reply was lost on a dropped connection.
 *
 * Numbers a script passes to Redis are strings ('0', not 0): Redis formats a Lua number with
 * sprintf first, which showed in a conversion's cost.
 *
 * A queued job lives in its outbox stream entry ('job' its ID, 'body' its JSON): accepting a
 * conversion adds one key, its dedup key, and no record. A job gets a record (a hash) only when it
 * leaves that path: waiting for a retry, dead, or settled (its state only, kept for the settled
 * retention). A record has no expiry while its job waits for a retry, so that no eviction policy
 * for keys with a TTL (Memorystore's default, volatile-lru) can take a job that is still to be
 * sent, nor has the stream; dying gives it the dead-letter retention.
 */
const SCRIPTS = {
  /**
   * Saves of visitors' clicks, several to a call (turn-batch.ts): KEYS: the visitor hashes. ARGV,
   * per hash: how many arguments follow for it, how many keys it has (1), ttlMs, the number of
   * field/value pairs, the pairs, then fields to delete. Values are "capturedAt|id". The same click
   * ID seen again (a reload, a GA4 engagement hit that repeats the landing URL) keeps its first
   * capture time: it is the same click, not a newer one. Returns 1 per hash, or {"error", message}
   * for a key that is not a hash (eachSegment).
   */
  saveVisitorClicks: {
    numberOfKeys: undefined,
    lua: `${EACH_SEGMENT}
      local function idOf(value)
        local bar = string.find(value, '|', 1, true)
        return bar and string.sub(value, bar + 1) or value
      end

      -- One hash, KEYS[key]: its arguments are ARGV[first .. last].
      local function save(key, first, last)
        key = KEYS[key]
        local ttl = tonumber(ARGV[first])
        local pairs = tonumber(ARGV[first + 1])
        for i = 0, pairs - 1 do
          local field, value = ARGV[first + 2 + 2 * i], ARGV[first + 3 + 2 * i]
          local known = redis.call('HGET', key, field)
          if not known or string.sub(field, 1, 1) == '!' or idOf(known) ~= idOf(value) then
            redis.call('HSET', key, field, value)
          end
        end
        for i = first + 2 + 2 * pairs, last do
          redis.call('HDEL', key, ARGV[i])
        end
        if redis.call('PTTL', key) < ttl then
          redis.call('PEXPIRE', key, ttl)
        end
        return 1
      end

      return eachSegment(1, save)`,
  },
  /**
   * KEYS: dedup key, outbox stream. ARGV: jobId, dedupTtlMs, jobJson, nowMs.
   * Returns false when accepted, or what the key holds: "firstJobId|acceptedAt|entryId" of the
   * conversion that holds it (its outbox entry's ID; a key set before entries carried jobs has none).
   */
  acceptConversion: {
    numberOfKeys: 2,
    lua: `
      local first = redis.call('GET', KEYS[1])
      if first then return first end
      local entry = redis.call('XADD', KEYS[2], '*', 'job', ARGV[1], 'body', ARGV[3])
      redis.call('SET', KEYS[1], ARGV[1] .. '|' .. ARGV[4] .. '|' .. entry, 'PX', ARGV[2])
      return false`,
  },
  /**
   * Conversions in one round trip each, several to a call: for each, reads the visitor's hashes,
   * picks each attribution group's newest click, and accepts the jobs it attributes as
   * acceptConversion does. The rules are attributeConversion's (src/attribution/resolve.ts), for an
   * event without an explicit click ID: the same millisecond goes to the click under the visitor
   * cookie, then to the destination listed first; a stored value that is not "digits|clickId" is no
   * click.
   * KEYS: the outbox, then per conversion its refs' visitor hashes, then a dedup key per job.
   * ARGV, per conversion: how many arguments follow for it, how many keys it has, its shape, nowMs,
   * then per job of the shape: jobId and the job's JSON up to its click fields. The shape is its
   * number among the shapes the call has defined, or 0 followed by its definition: dedupTtlMs, the
   * count of refs, each ref's kind, the count of groups, then per group its destinations (a count,
   * then the IDs in config order) and its jobs (a count, then per job: destination, windowMs,
   * withoutClick 0|1).
   * Returns per conversion: each ref's HGETALL; then per job: false when not attributed, 1 when
   * accepted, or "firstJobId|acceptedAt|entryId" of the conversion that holds its dedup key; then per
   * group its winner: "repeated" (0|1), then "|kind|capturedAt|destination|clickId" when it had a
   * click. A conversion that raises an error (a key of the wrong type, a stored job that is not
   * JSON) answers {"error", message} alone, and the others go on (eachSegment).
   * Run again for the same conversions (ioredis re-sends a command whose reply was lost), a group
   * whose job holds its dedup key answers as the first run did, with the click that run chose,
   * whatever was stored in between, read from the job's outbox entry or, once it left the stream,
   * its record; a job delivered at its first attempt has neither, and answers with the click its
   * destination has stored now (the same one unless a newer click of that network landed within
   * the reconnect).
   */
  acceptLastTouch: {
    numberOfKeys: undefined,
    lua: `${EACH_SEGMENT}
      local outbox = KEYS[1]
      -- Job records share the outbox's hash tag ({rl}): the one acceptedBody reads, undeclared,
      -- is on the one endpoint the relay runs on (keys.ts).
      local recordPrefix = string.match(outbox, '^(.*:)[^:]*$') .. 'job:'

      -- The call's conversion shapes (last-touch.ts), in the order they are defined: a
      -- conversion's first argument is its shape's number, or 0 before the shape's definition.
      local shapes = {}

      -- Reads the shape at ARGV[arg]; returns it and the index of the argument after it.
      local function shapeAt(arg)
        local number = tonumber(ARGV[arg])
        if number ~= 0 then return shapes[number], arg + 1 end
        local shape = { ttl = ARGV[arg + 1], kinds = {}, groups = {} }
        local refCount = tonumber(ARGV[arg + 2])
        arg = arg + 3
        for r = 1, refCount do
          local kind = ARGV[arg]
          shape.kinds[r] = { name = kind, rank = kind == 'visitor' and 0 or 1 }
          arg = arg + 1
        end
        local groupCount = tonumber(ARGV[arg])
        arg = arg + 1
        for g = 1, groupCount do
          local place, count = {}, tonumber(ARGV[arg])
          for d = 1, count do place[ARGV[arg + d]] = d end
          arg = arg + count + 1
          local jobs = {}
          count = tonumber(ARGV[arg])
          for j = 1, count do
            jobs[j] = { destination = ARGV[arg + 1], window = tonumber(ARGV[arg + 2]), withoutClick = ARGV[arg + 3] == '1' }
            arg = arg + 3
          end
          shape.groups[g] = { place = place, jobs = jobs }
          arg = arg + 1
        end
        shapes[#shapes + 1] = shape
        return shape, arg
      end

      -- "capturedAt|clickId", the time in at most 15 digits. One match, not a find and its
      -- substrings: each call into Lua's string library is a large part of a conversion's cost here.
      local function clickOf(value)
        local atText, clickId = string.match(value, '^(%d+)|(.*)$')
        if not atText or #atText > 15 then return nil end
        return tonumber(atText), atText, clickId
      end

      -- The newest click in the hashes read among the destinations of a group, place[destination]
      -- being each one's place in config order; kinds[r] is hash r's kind.
      local function newestClick(hashes, kinds, place)
        local best
        for r = 1, #hashes do
          local kind = kinds[r]
          local hash = hashes[r]
          for i = 1, #hash, 2 do
            local d = place[hash[i]]
            local at, atText, clickId
            if d then at, atText, clickId = clickOf(hash[i + 1]) end
            if at and (best == nil or at > best.at or (at == best.at and
                (kind.rank < best.rank or (kind.rank == best.rank and d < best.place)))) then
              best = { at = at, atText = atText, clickId = clickId, kind = kind.name, rank = kind.rank, place = d, destination = hash[i] }
            end
          end
        end
        return best
      end

      local function jobJson(head, click, now)
        if not click then return head .. ',"clickId":"","clickSource":"none","acceptedAt":' .. now .. '}' end
        -- Quoted as is unless it needs escaping: cjson costs more than the rest of the job.
        local quoted = string.find(click.clickId, '[%c"\\\\]') and cjson.encode(click.clickId) or '"' .. click.clickId .. '"'
        return head .. ',"clickId":' .. quoted .. ',"clickSource":"' .. click.kind ..
          '","clickCapturedAt":' .. click.atText .. ',"acceptedAt":' .. now .. '}'
      end

      -- The job's JSON when the group's click (or, having none, the job's platform) takes it.
      local function bodyOf(job, click, nowMs, now)
        local spec = job.spec
        if not click then
          if spec.withoutClick then return jobJson(job.head, nil, now) end
          return nil
        end
        if click.destination == spec.destination and nowMs - click.at <= spec.window then return jobJson(job.head, click, now) end
        return nil
      end

      -- A group's winner as answered: repeated ('0' or '1'), then the click it was accepted on.
      local function winnerOf(repeated, click)
        if not click then return repeated end
        return repeated .. '|' .. click.kind .. '|' .. click.atText .. '|' .. click.destination .. '|' .. click.clickId
      end

      -- Queues the job; returns its entry's ID, which its dedup key keeps.
      local function queue(job)
        return redis.call('XADD', outbox, '*', 'job', job.id, 'body', job.body)
      end

      -- The JSON of a job an earlier run accepted, from what its dedup key holds after its ID
      -- ("acceptedAt|entryId"): its outbox entry while it is there, else its record (a retry, a dead
      -- letter, a key set before entries carried jobs). Nil for a job delivered at its first attempt.
      local function acceptedBody(id, held)
        local entry = string.match(held, '^%d+|(.+)$')
        if entry then
          local found = redis.call('XRANGE', outbox, entry, entry)[1]
          if found and found[2][4] then return found[2][4] end
        end
        return redis.call('HGET', recordPrefix .. id, 'job')
      end

      -- One conversion: its arguments start at ARGV[first], its keys at KEYS[key].
      local function accept(key, first)
        local shape, arg = shapeAt(first)
        local now = ARGV[arg]
        local nowMs, ttl = tonumber(now), shape.ttl
        arg = arg + 1
        local hashes = {}
        for r = 1, #shape.kinds do
          hashes[r] = redis.call('HGETALL', KEYS[key])
          key = key + 1
        end

        local verdicts, winners = {}, {}
        for _, group in ipairs(shape.groups) do
          local click = newestClick(hashes, shape.kinds, group.place)
          local count, jobs, earlier, claimed = #group.jobs, {}, nil, nil
          for j = 1, count do
            jobs[j] = { spec = group.jobs[j], id = ARGV[arg], head = ARGV[arg + 1], dedup = KEYS[key] }
            arg = arg + 2
            key = key + 1
          end
          -- A group of one job, attributed, claims its dedup key at once: most conversions are new,
          -- and no other job of the group can have been queued by an earlier run.
          if count == 1 then
            local job = jobs[1]
            job.body = bodyOf(job, click, nowMs, now)
            -- Queued first, so that the key can keep the entry's ID; a key held already takes it back.
            if job.body then
              local entry = queue(job)
              if redis.call('SET', job.dedup, job.id .. '|' .. now .. '|' .. entry, 'PX', ttl, 'NX') then
                claimed = job
              else
                redis.call('XDEL', outbox, entry)
              end
            end
          end
          if not claimed then
            for _, job in ipairs(jobs) do
              local holder = redis.call('GET', job.dedup)
              job.holder = holder
              if holder and string.sub(holder, 1, #job.id + 1) == job.id .. '|' then earlier = job end
            end
          end
          if earlier then
            local stored = acceptedBody(earlier.id, string.sub(earlier.holder, #earlier.id + 2))
            if stored then
              local first = cjson.decode(stored)
              local chosen = first.clickSource ~= 'none' and { kind = first.clickSource,
                atText = string.format('%d', first.clickCapturedAt), destination = first.destination, clickId = first.clickId }
              winners[#winners + 1] = winnerOf('1', chosen)
            else
              -- Delivered at its first attempt, the job left neither an entry nor its JSON: its
              -- click is the one its destination has stored now (the same, unless a newer one of
              -- that network landed in between), not the group's newest, which may be another's.
              local own = newestClick(hashes, shape.kinds, { [earlier.spec.destination] = 1 })
              winners[#winners + 1] = winnerOf('1', own)
            end
            for _, job in ipairs(jobs) do
              if job.holder then verdicts[#verdicts + 1] = job.holder else verdicts[#verdicts + 1] = false end
            end
          else
            winners[#winners + 1] = winnerOf('0', click)
            for _, job in ipairs(jobs) do
              local verdict = false
              if job == claimed then
                verdict = 1
              else
                if count > 1 then job.body = bodyOf(job, click, nowMs, now) end
                if job.body then
                  verdict = job.holder
                  if not verdict then
                    redis.call('SET', job.dedup, job.id .. '|' .. now .. '|' .. queue(job), 'PX', ttl)
                    verdict = 1
                  end
                end
              end
              verdicts[#verdicts + 1] = verdict
            end
          end
        end
        hashes[#shape.kinds + 1] = verdicts
        hashes[#shape.kinds + 2] = winners
        return hashes
      end

      return eachSegment(2, accept)`,
  },
  /**
   * KEYS: the retry zset, then the job records of one claimed batch's entries without a body (jobs
   * back from a retry or a replay, or adopted from a version before). ARGV: the jobs' IDs, in the
   * same order. Counts an attempt on each job to be sent and returns three values per job: its
   * payload (nil when the record is gone), its `since`, and its attempts, or -1 for an entry that
   * is stale: its job settled, dead or waiting for a retry already (a worker of a version before,
   * alive, finished it after its entry was adopted), to be closed without a send.
   */
  loadClaimedJobs: {
    numberOfKeys: undefined,
    lua: `
      local out = {}
      for i = 2, #KEYS do
        local key = KEYS[i]
        local job = redis.call('HMGET', key, 'job', 'since', 'state')
        local at = 3 * i - 5
        out[at], out[at + 1], out[at + 2] = job[1], job[2], 0
        if job[1] then
          if job[3] == 'settled' or job[3] == 'dead' or redis.call('ZSCORE', KEYS[1], ARGV[i - 1]) then
            out[at + 2] = -1
          else
            out[at + 2] = redis.call('HINCRBY', key, 'attempts', '1')
          end
        end
      end
      return out`,
  },
  /**
   * The delivery worker's settles and postback log entries, several to a call (turn-batch.ts):
   * KEYS[1] the outbox, KEYS[2] the postback log, then per settle its job hash. ARGV, per segment:
   * how many arguments follow for it, how many keys it has, then either
   * "settle", entryId, group, outcome, nowMs, retentionMs, mark (one key: the job record): the
   * entry is acknowledged and deleted, and the record settled and kept retentionMs: the record the
   * job had, or with mark '1' a new one of its state alone; or
   * "log", maxEntries, entryJson (no key): the entry appended to the capped log stream.
   * Returns 1 per segment, or {"error", message} for one that Redis refused (eachSegment).
   */
  workerWrites: {
    numberOfKeys: undefined,
    lua: `${EACH_SEGMENT}
      local outbox, log = KEYS[1], KEYS[2]

      local function settle(job, at)
        redis.call('XACK', outbox, ARGV[at + 1], ARGV[at])
        redis.call('XDEL', outbox, ARGV[at])
        if ARGV[at + 5] == '1' or redis.call('EXISTS', job) == 1 then
          redis.call('HSET', job, 'state', 'settled', 'outcome', ARGV[at + 2], 'settledAt', ARGV[at + 3])
          redis.call('PEXPIRE', job, ARGV[at + 4])
        end
      end

      local function append(at)
        redis.call('XADD', log, 'MAXLEN', '~', ARGV[at], '*', 'e', ARGV[at + 1])
      end

      return eachSegment(3, function(key, first)
        if ARGV[first] == 'settle' then settle(KEYS[key], first + 1) else append(first + 1) end
        return 1
      end)`,
  },
  /**
   * KEYS: the outbox. ARGV: group, consumer, then entry IDs. Resets the idle time of the entries
   * still pending for this consumer (XCLAIM to itself, JUSTID: no delivery counted), so that no
   * other worker's reclaim takes a job that is still being delivered; an entry settled already, or
   * taken over by another consumer, is left alone. Returns how many were kept.
   */
  keepClaimed: {
    numberOfKeys: 1,
    lua: `
      local claim = { KEYS[1], ARGV[1], ARGV[2], '0' }
      for i = 3, #ARGV do
        if #redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], '1', ARGV[2]) > 0 then
          claim[#claim + 1] = ARGV[i]
        end
      end
      local kept = #claim - 4
      if kept > 0 then
        claim[#claim + 1] = 'JUSTID'
        redis.call('XCLAIM', unpack(claim))
      end
      return kept`,
  },
  /**
   * KEYS: outbox, retry zset, job record. ARGV: entryId, group, jobId, dueAtMs, outcome, attempts,
   * jobJson. The record (written here if the job had none) carries the job while it waits.
   */
  retryJob: {
    numberOfKeys: 3,
    lua: `
      redis.call('ZADD', KEYS[2], ARGV[4], ARGV[3])
      redis.call('XACK', KEYS[1], ARGV[2], ARGV[1])
      redis.call('XDEL', KEYS[1], ARGV[1])
      redis.call('HSET', KEYS[3], 'job', ARGV[7], 'state', 'retrying', 'outcome', ARGV[5], 'dueAt', ARGV[4], 'attempts', ARGV[6])
      return 1`,
  },
  /**
   * KEYS: outbox, dead stream, job record. ARGV: entryId, group, jobId, outcome, reason, nowMs,
   * minDeadId, retentionMs, jobJson. The dead stream is trimmed by age only, never by count; the
   * record (written here if the job had none) keeps the job as long, for a replay.
   */
  deadLetterJob: {
    numberOfKeys: 3,
    lua: `
      redis.call('XACK', KEYS[1], ARGV[2], ARGV[1])
      redis.call('XDEL', KEYS[1], ARGV[1])
      local entry = redis.call('XADD', KEYS[2], 'MINID', '~', ARGV[7], '*', 'job', ARGV[3])
      redis.call('HSET', KEYS[3], 'job', ARGV[9], 'state', 'dead', 'outcome', ARGV[4], 'reason', ARGV[5],
        'deadAt', ARGV[6], 'deadEntry', entry)
      redis.call('PEXPIRE', KEYS[3], ARGV[8])
      return 1`,
  },
  /** KEYS: job hash, outbox, dead stream. ARGV: jobId, nowMs. 1 when queued again, 0 when not dead. */
  replayJob: {
    numberOfKeys: 3,
    lua: `
      if redis.call('HGET', KEYS[1], 'state') ~= 'dead' then return 0 end
      local entry = redis.call('HGET', KEYS[1], 'deadEntry')
      if entry then redis.call('XDEL', KEYS[3], entry) end
      redis.call('HSET', KEYS[1], 'state', 'queued', 'attempts', '0', 'since', ARGV[2])
      redis.call('HDEL', KEYS[1], 'deadEntry')
      redis.call('PERSIST', KEYS[1])
      redis.call('XADD', KEYS[2], '*', 'job', ARGV[1])
      return 1`,
  },
  /**
   * KEYS: dedup key, job record, outbox. ARGV: jobId, dedupTtlMs, jobJson, acceptedAtMs.
   * Returns 'known', 'duplicate' (the key belongs to another job) or 'restored'. A dedup key that
   * names this job means it was accepted (queued, delivered, or its record expired after settling):
   * known, never re-sent. A queued job without a record whose dedup key alone was lost (evicted: it
   * has a TTL, its stream entry none) is not seen here: the caller checks the queue first
   * (Outbox.queuedJobIds).
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
      local entry = redis.call('XADD', KEYS[3], '*', 'job', ARGV[1], 'body', ARGV[3])
      redis.call('SET', KEYS[1], ARGV[1] .. '|' .. ARGV[4] .. '|' .. entry, 'PX', ARGV[2])
      return 'restored'`,
  },
  /**
   * KEYS: the legacy outbox, the outbox. ARGV: group, consumer, minIdleMs or '-', count. Moves
   * into the outbox, as entries naming their jobs (whose records hold them), up to `count` entries
   * of the legacy stream not yet delivered and, unless minIdleMs is '-', as many that a worker
   * claimed and left idle `minIdleMs` (stopped: a live one of that version keeps its claims
   * fresh). The legacy stream's consumer group hands each entry to one consumer; a worker of that
   * version alive but idle past `minIdleMs` may still finish a job whose entry was moved, which
   * loadClaimedJobs then finds done and closes. Returns how many were moved.
   */
  adoptLegacyJobs: {
    numberOfKeys: 2,
    lua: `
      local legacy, outbox, group, consumer = KEYS[1], KEYS[2], ARGV[1], ARGV[2]
      if redis.call('EXISTS', legacy) == 0 then return 0 end
      -- Created as the versions before created it, where only their intake ran (BUSYGROUP otherwise).
      redis.pcall('XGROUP', 'CREATE', legacy, group, '0')
      local moved = 0
      local function move(entries)
        for _, entry in ipairs(entries) do
          -- Redis 6.2's XAUTOCLAIM answers an entry deleted meanwhile without its fields.
          local fields = entry[2] or {}
          local copied = {}
          for i = 1, #fields - 1, 2 do
            if fields[i] == 'job' or fields[i] == 'body' then
              copied[#copied + 1] = fields[i]
              copied[#copied + 1] = fields[i + 1]
            end
          end
          if copied[1] == 'job' then
            redis.call('XADD', outbox, '*', unpack(copied))
            moved = moved + 1
          end
          redis.call('XACK', legacy, group, entry[1])
          redis.call('XDEL', legacy, entry[1])
        end
      end
      local fresh = redis.call('XREADGROUP', 'GROUP', group, consumer, 'COUNT', ARGV[4], 'STREAMS', legacy, '>')
      if fresh then move(fresh[1][2]) end
      if ARGV[3] ~= '-' then move(redis.call('XAUTOCLAIM', legacy, group, consumer, ARGV[3], '0-0', 'COUNT', ARGV[4])[2]) end
      return moved`,
  },
  /** KEYS: retry zset, outbox. ARGV: nowMs, limit. Moves due jobs back into the stream. */
  promoteDue: {
    numberOfKeys: 2,
    lua: `
      local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', '0', ARGV[2])
      for _, id in ipairs(due) do
        redis.call('ZREM', KEYS[1], id)
        redis.call('XADD', KEYS[2], '*', 'job', id)
      end
      return #due`,
  },
} as const;

export type ScriptArg = string | number;

export interface RelayScripts {
  saveVisitorClicks(numberOfKeys: number, ...keysThenArgs: ScriptArg[]): Promise<unknown[]>;
  acceptConversion(dedup: string, outbox: string, ...args: ScriptArg[]): Promise<string | null>;
  acceptLastTouch(numberOfKeys: number, ...keysThenArgs: ScriptArg[]): Promise<unknown[]>;
  loadClaimedJobs(numberOfKeys: number, ...keysThenIds: string[]): Promise<Array<string | number | null>>;
  workerWrites(numberOfKeys: number, ...keysThenArgs: ScriptArg[]): Promise<unknown[]>;
  keepClaimed(outbox: string, ...args: ScriptArg[]): Promise<number>;
  retryJob(outbox: string, retry: string, job: string, ...args: ScriptArg[]): Promise<number>;
  deadLetterJob(outbox: string, dead: string, job: string, ...args: ScriptArg[]): Promise<number>;
  replayJob(job: string, outbox: string, dead: string, ...args: ScriptArg[]): Promise<number>;
  restoreJob(dedup: string, job: string, outbox: string, ...args: ScriptArg[]): Promise<'known' | 'duplicate' | 'restored'>;
  promoteDue(retry: string, outbox: string, ...args: ScriptArg[]): Promise<number>;
  adoptLegacyJobs(legacy: string, outbox: string, ...args: ScriptArg[]): Promise<number>;
}

/** Registers the scripts on a connection (EVALSHA, with EVAL when the server lost its cache). */
export function withScripts(redis: Redis): Redis & RelayScripts {
  for (const [name, definition] of Object.entries(SCRIPTS)) {
    redis.defineCommand(name, { numberOfKeys: definition.numberOfKeys, lua: definition.lua });
  }
  return redis as Redis & RelayScripts;
}
