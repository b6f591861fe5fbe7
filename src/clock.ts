/**
 * A clock that formats the time once per millisecond: formatting it costs more than the rest of a
 * log line or a job ID (`toISOString` about half a microsecond), and a busy relay stamps many trace
 * steps, log lines and jobs within each millisecond.
 */
export function formattedClock(format: (ms: number) => string, now: () => number = Date.now): () => string {
  let lastMs = Number.NaN;
  let last = '';
  return () => {
    const ms = now();
    if (ms !== lastMs) {
      lastMs = ms;
      last = format(ms);
    }
    return last;
  };
}

/** The time as `toISOString` writes it. */
export function isoClock(now: () => number = Date.now): () => string {
  return formattedClock((ms) => new Date(ms).toISOString(), now);
}
