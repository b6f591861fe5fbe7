import { pino, type Logger as PinoLogger, type DestinationStream } from 'pino';
import type { LogLevel } from './config/schema.js';

export type Logger = PinoLogger;

/** Cloud Logging reads `severity` from each JSON line; pino's numeric levels map onto its names. */
const SEVERITY: Record<string, string> = {
  trace: 'DEBUG', debug: 'DEBUG', info: 'INFO', warn: 'WARNING', error: 'ERROR', fatal: 'CRITICAL',
};

/** Standard output is written in batches of about this size... */
const STDOUT_BATCH_BYTES = 8 * 1024;
/** ...or this often, whichever comes first. */
const STDOUT_FLUSH_MS = 250;

/**
 * Standard output, written asynchronously and in batches: a write is a system call and a trip
 * through libuv's thread pool, which a line per conversion and per postback would pay each time.
 * The entry point flushes it on exit; a SIGKILL can lose the last quarter second of lines (the
 * conversions themselves are in Redis).
 */
export function createStdout(): DestinationStream & { flushSync(): void } {
  // Buffers, not strings: in string mode each line appended to a batch measures the batch's
  // byte length, which copies the whole batch so far, and a batch holds dozens of lines.
  const stdout = pino.destination({ dest: 1, sync: false, minLength: STDOUT_BATCH_BYTES, contentMode: 'buffer' });
  // Lines wait for a batch's worth of company at most about this long. A quiet relay writes
  // nothing: the flush runs while lines came in this period or the one before (a flush asked
  // for during a write in flight waits for the next period).
  let linesNow = 0;
  let linesBefore = 0;
  const write = stdout.write.bind(stdout) as unknown as (line: Buffer) => boolean;
  stdout.write = (line: string) => {
    linesNow++;
    return write(Buffer.from(line));
  };
  setInterval(() => {
    try {
      if (linesNow + linesBefore > 0) stdout.flush();
    } catch {
      // Closed as the process exits; the exit handler has written what was left.
    }
    linesBefore = linesNow;
    linesNow = 0;
  }, STDOUT_FLUSH_MS).unref();
  return stdout;
}

export function createLogger(level: LogLevel, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      messageKey: 'message',
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: {
        level: (label) => ({ severity: SEVERITY[label] ?? 'DEFAULT', level: label }),
      },
      // Defence in depth: the relay never logs these, but a careless field must not leak them.
      redact: {
        paths: ['authorization', 'cookie', 'headers.authorization', 'headers.cookie', '*.api_key', 'api_key'],
        censor: '<redacted>',
      },
    },
    destination,
  );
}

/**
 * A line written straight to the logger's destination, in the shape of its other lines, for the
 * lines written once per conversion and once per postback: pino serializes field by field and
 * scans for redaction, which shows at that rate. Only the flat values of `fields` (strings,
 * numbers, booleans) are written, values the relay produced (no headers, no secrets: the redaction
 * paths above never match them); objects are left out. `jsonFields` are values that are JSON
 * already, such as a job just serialized for the store.
 */
export function writeLogLine(
  logger: Logger,
  level: 'info' | 'error',
  message: string,
  fields: object,
  jsonFields: Record<string, string> = {},
): void {
  if (!logger.isLevelEnabled(level)) return;
  let line = `{"severity":"${SEVERITY[level]}","level":"${level}","time":"${new Date().toISOString()}"`;
  for (const name in fields) {
    const value: unknown = (fields as Record<string, unknown>)[name];
    const type = typeof value;
    if (type === 'string' || type === 'number' || type === 'boolean') {
      line += `,${JSON.stringify(name)}:${JSON.stringify(value)}`;
    }
  }
  for (const name in jsonFields) line += `,${JSON.stringify(name)}:${jsonFields[name]}`;
  line += `,"message":${JSON.stringify(message)}}\n`;
  (logger as unknown as Record<symbol, DestinationStream>)[pino.symbols.streamSym]!.write(line);
}
