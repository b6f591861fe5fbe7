import { pino, type Logger as PinoLogger, type DestinationStream } from 'pino';
import type { LogLevel } from './config/schema.js';

export type Logger = PinoLogger;

/** Cloud Logging reads `severity` from each JSON line; pino's numeric levels map onto its names. */
const SEVERITY: Record<string, string> = {
  trace: 'DEBUG', debug: 'DEBUG', info: 'INFO', warn: 'WARNING', error: 'ERROR', fatal: 'CRITICAL',
};

/**
 * Standard output, written asynchronously: under load, lines that arrive while a write is in flight
 * go out together in the next one, instead of a system call per line. The entry point flushes it
 * on exit; a SIGKILL can lose the last few lines (the conversions themselves are in Redis).
 */
export function createStdout(): DestinationStream & { flushSync(): void } {
  return pino.destination({ dest: 1, sync: false });
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
