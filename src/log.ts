import { pino, type Logger as PinoLogger, type DestinationStream } from 'pino';
import type { LogLevel } from './config/schema.js';

export type Logger = PinoLogger;

/** Cloud Logging reads `severity` from each JSON line; pino's numeric levels map onto its names. */
const SEVERITY: Record<string, string> = {
  trace: 'DEBUG', debug: 'DEBUG', info: 'INFO', warn: 'WARNING', error: 'ERROR', fatal: 'CRITICAL',
};

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
