import type { RelayConfig } from './config/load.js';
import { ConfigError } from './errors.js';
import type { Logger } from './log.js';

/**
 * What both entry points say first: which store, which config, and every default that would
 * surprise an operator in production.
 */
export function announceStartup(config: RelayConfig, logger: Logger, entry: 'server' | 'function'): void {
  logger.info(
    { store: config.redisUrl ? 'redis' : 'memory', config: config.configPath, mode: entry === 'server' ? config.mode : 'function' },
    config.redisUrl
      ? `relay starting on Redis ${redactUrl(config.redisUrl)}`
      : 'relay starting on the embedded in-memory store: clicks and queued postbacks are lost on restart; set REDIS_URL for production',
  );
  if (config.usingBundledExample) {
    logger.warn({ config: config.configPath }, 'no RELAY_CONFIG set: using the bundled example config (destinations in dry_run)');
  }
  if (config.cookieSecretGenerated) {
    logger.warn('no RELAY_COOKIE_SECRET set: visitor cookies are signed with a per-process key and stop verifying after a restart');
  }
  if (!config.file.allowedOrigins) {
    logger.warn('no allowedOrigins in the config: browser events from any origin are accepted');
  }
}

/**
 * With Redis, several instances serve the same visitors: a cookie signed by one must verify on the
 * others, or every conversion that lands on another instance loses its click.
 */
export function assertSharedCookieSecret(config: RelayConfig, needsCookies: boolean): void {
  if (config.redisUrl && config.cookieSecretGenerated && needsCookies) {
    throw new ConfigError(
      'environment: RELAY_COOKIE_SECRET is required with REDIS_URL: every instance must sign visitor cookies ' +
        'with the same key (generate one with `openssl rand -base64 32`)',
    );
  }
}

function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '<redacted>';
    return u.toString();
  } catch {
    return '<unparseable REDIS_URL>';
  }
}
