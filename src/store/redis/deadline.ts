import { StoreUnavailableError } from '../../errors.js';
import { REQUEST_DEADLINE_MS } from './connection.js';

/**
 * The request path's own deadline. ioredis's commandTimeout starts only when a command is written,
 * and an auto-pipelined batch waits for the batch before it: with Redis frozen, each batch would
 * wait out the timeout of the one ahead. Past the deadline the outcome is unknown (the command may
 * still run), which is safe because every request-path write is idempotent and the tag retries.
 *
 * One coarse timer checks every pending call instead of a timer per call: a conversion makes two
 * calls, and at tens of thousands a second per-call timers are a measurable share of the work.
 */
const TICK_MS = 50;

interface Pending {
  expiresAt: number;
  what: string;
  ms: number;
  reject: (err: Error) => void;
}

const pending = new Set<Pending>();
let ticker: NodeJS.Timeout | undefined;

function tick(): void {
  const now = Date.now();
  for (const entry of pending) {
    if (entry.expiresAt <= now) {
      pending.delete(entry);
      entry.reject(new StoreUnavailableError(`${entry.what}: no answer from Redis within ${entry.ms} ms`));
    }
  }
  if (pending.size === 0) {
    clearInterval(ticker);
    ticker = undefined;
  }
}

export function withDeadline<T>(work: Promise<T>, what: string, ms = REQUEST_DEADLINE_MS): Promise<T> {
  // One promise per call, settled by whichever comes first: the answer or the ticker. A late
  // answer (or failure) after the deadline has no one left to tell.
  return new Promise<T>((resolve, reject) => {
    const entry: Pending = { expiresAt: Date.now() + ms, what, ms, reject };
    pending.add(entry);
    ticker ??= setInterval(tick, TICK_MS).unref();
    work.then(
      (value) => {
        pending.delete(entry);
        resolve(value);
      },
      (err: Error) => {
        pending.delete(entry);
        reject(err instanceof StoreUnavailableError ? err : new StoreUnavailableError(`${what} failed: ${err?.message}`));
      },
    );
  });
}
