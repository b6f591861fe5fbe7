import { StoreUnavailableError } from '../../errors.js';
import { REQUEST_DEADLINE_MS } from './connection.js';

/**
 * The request path's own deadline. ioredis's commandTimeout starts only when a command is written,
 * and an auto-pipelined batch waits for the batch before it: with Redis frozen, each batch would
 * wait out the timeout of the one ahead. Past the deadline the outcome is unknown (the command may
 * still run), which is safe because every request-path write is idempotent and the tag retries.
 */
export async function withDeadline<T>(work: Promise<T>, what: string, ms = REQUEST_DEADLINE_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new StoreUnavailableError(`${what}: no answer from Redis within ${ms} ms`)), ms);
  });
  // The command may fail after the deadline already answered; that failure has no one to tell.
  work.catch(() => undefined);
  try {
    return await Promise.race([work, deadline]);
  } catch (err) {
    if (err instanceof StoreUnavailableError) throw err;
    throw new StoreUnavailableError(`${what} failed: ${(err as Error).message}`);
  } finally {
    clearTimeout(timer);
  }
}
