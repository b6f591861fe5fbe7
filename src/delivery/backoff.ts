/** ±20 % jitter, so a network's recovery is not met by every queued postback at once. */
const JITTER = 0.2;
/** A Retry-After longer than this is not honoured as given; the job waits this long instead. */
const MAX_RETRY_AFTER_MS = 24 * 3_600_000;

/**
 * The wait before the attempt after `attempt` (1-based), or undefined once the schedule is used
 * up. A network's Retry-After is a floor: the relay never comes back sooner than it asked.
 */
export function retryDelayMs(
  attempt: number,
  delaysMs: readonly number[],
  retryAfterMs: number | undefined,
  random: () => number = Math.random,
): number | undefined {
  const base = delaysMs[attempt - 1];
  if (base === undefined) return undefined;
  const jittered = base * (1 - JITTER + 2 * JITTER * random());
  if (retryAfterMs === undefined) return Math.round(jittered);
  return Math.round(Math.max(jittered, Math.min(retryAfterMs, MAX_RETRY_AFTER_MS)));
}

/** RFC 9110 §10.2.3: Retry-After is delay-seconds or an HTTP date. */
export function parseRetryAfter(value: string | undefined, now: number): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
