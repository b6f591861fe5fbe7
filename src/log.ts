import { writeSync } from 'node:fs';
import { pino, type Logger as PinoLogger, type DestinationStream } from 'pino';
import { isoClock } from './clock.js';
import type { LogLevel } from './config/schema.js';

export type Logger = PinoLogger;

/** Cloud Logging reads `severity` from each JSON line; pino's numeric levels map onto its names. */
const SEVERITY: Record<string, string> = {
  trace: 'DEBUG', debug: 'DEBUG', info: 'INFO', warn: 'WARNING', error: 'ERROR', fatal: 'CRITICAL',
};

/** Standard output is written in batches of about this size... */
const STDOUT_BATCH_CHARS = 8 * 1024;
/** ...or this often, whichever comes first. */
const STDOUT_FLUSH_MS = 250;
/**
 * At exit, how long a full non-blocking pipe is waited for before what is left is given up: the
 * exit comes after the shutdown drain, close to Cloud Run's 10 s.
 */
const EXIT_FLUSH_WAIT_MS = 300;
/** How soon a pipe that refused a write (EAGAIN) is tried again. */
const PIPE_RETRY_MS = 10;
/** Batches a stalled reader has not taken are kept up to this many bytes; later lines are counted and dropped. */
const MAX_WAITING_BYTES = 64 * 2 ** 20;

/**
 * Standard output in batches, each written synchronously. A write is a system call, which a line
 * per conversion and per postback would pay each time; an asynchronous write also costs a trip
 * through libuv's thread pool and back, which measured several times dearer per line than the
 * write itself (and Node writes to pipes synchronously on Linux anyway: on a blocking pipe, as
 * Cloud Run's is, a stalled log reader holds the relay as it would hold any Node process). A line
 * waits at most a quarter second. On a non-blocking pipe, what a reader that is behind refused
 * waits for the next flush, ahead of newer lines. The entry point flushes on exit; a SIGKILL can
 * lose the last quarter second of lines (the conversions themselves are in Redis).
 */
export function createStdout(fd = 1, maxWaitingBytes = MAX_WAITING_BYTES): DestinationStream & { flushSync(waitMs?: number): void } {
  let batch = '';
  /** Batches not yet (fully) written, oldest first: a pipe that is full refuses the rest. */
  const waiting: Buffer[] = [];
  let waitingBytes = 0;
  let droppedLines = 0;

  /** Writes what waits; true when all of it went out. */
  function flush(): boolean {
    if (batch.length > 0) {
      const bytes = Buffer.from(batch);
      batch = '';
      if (waitingBytes + bytes.length <= maxWaitingBytes) {
        waiting.push(bytes);
        waitingBytes += bytes.length;
      } else {
        droppedLines += countLines(bytes);
      }
    }
    while (waiting.length > 0) {
      const bytes = waiting[0]!;
      let written: number;
      try {
        written = writeSync(fd, bytes);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EAGAIN') return false;
        // Standard output is closed or broken (EPIPE, EBADF, ENOSPC): there is nowhere left to
        // write, and no reason to stop serving.
        waiting.length = 0;
        waitingBytes = 0;
        return true;
      }
      waitingBytes -= written;
      if (written < bytes.length) waiting[0] = bytes.subarray(written);
      else waiting.shift();
    }
    if (droppedLines > 0) {
      // Said once the reader has caught up, so the gap in the log is explained.
      batch = `{"severity":"WARNING","level":"warn","time":"${new Date().toISOString()}","dropped_lines":${droppedLines},"message":"log.lines_dropped"}\n`;
      droppedLines = 0;
    }
    return true;
  }

  /** A full pipe is tried again soon, not at the next quarter second: it may hold only 64 KB. */
  let retry: NodeJS.Timeout | undefined;
  function flushOrRetry(): void {
    if (flush() || retry) return;
    retry = setTimeout(() => {
      retry = undefined;
      flushOrRetry();
    }, PIPE_RETRY_MS).unref();
  }

  setInterval(() => {
    if (batch.length > 0 || waiting.length > 0) flushOrRetry();
  }, STDOUT_FLUSH_MS).unref();

  return {
    write(line: string) {
      batch += line;
      if (batch.length >= STDOUT_BATCH_CHARS) flushOrRetry();
    },
    flushSync(waitMs = EXIT_FLUSH_WAIT_MS) {
      const until = Date.now() + waitMs;
      while (!flush() && Date.now() < until) Atomics.wait(EXIT_WAIT, 0, 0, 5);
      if (batch.length > 0) flush();
    },
  };
}

function countLines(bytes: Buffer): number {
  let lines = 0;
  for (let at = bytes.indexOf(10); at >= 0; at = bytes.indexOf(10, at + 1)) lines++;
  return lines;
}

/** Something to sleep on while a full pipe drains at exit. */
const EXIT_WAIT = new Int32Array(new SharedArrayBuffer(4));

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

/** The time of the lines writeLogLine writes. */
const lineTime = isoClock();
/** Field names and messages are the relay's own, a few dozen: each is quoted once. */
const quotedTexts = new Map<string, string>();
const MAX_QUOTED_TEXTS = 256;

function quotedText(text: string): string {
  let quoted = quotedTexts.get(text);
  if (quoted === undefined) {
    quoted = JSON.stringify(text);
    if (quotedTexts.size < MAX_QUOTED_TEXTS) quotedTexts.set(text, quoted);
  }
  return quoted;
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
  let line = `{"severity":"${SEVERITY[level]}","level":"${level}","time":"${lineTime()}"`;
  for (const name in fields) {
    const value: unknown = (fields as Record<string, unknown>)[name];
    const type = typeof value;
    if (type === 'string' || type === 'number' || type === 'boolean') {
      line += `,${quotedText(name)}:${JSON.stringify(value)}`;
    }
  }
  for (const name in jsonFields) line += `,${quotedText(name)}:${jsonFields[name]}`;
  line += `,"message":${quotedText(message)}}\n`;
  (logger as unknown as Record<symbol, DestinationStream>)[pino.symbols.streamSym]!.write(line);
}
