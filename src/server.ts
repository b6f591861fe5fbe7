import { loadConfig } from './config/load.js';
import { createLogger } from './log.js';
import { createRelay } from './relay.js';

/**
 * Cloud Run entry: the only module (with function.ts) that touches the process — it reads the
 * environment, listens, and drains on SIGTERM inside Cloud Run's 10 s before SIGKILL.
 */
const SHUTDOWN_GRACE_MS = 8_000;

function main(): void {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    process.stderr.write(`${JSON.stringify({ severity: 'ERROR', message: 'relay.config_invalid', error: (err as Error).message })}\n`);
    process.exit(1);
  }
  const logger = createLogger(config.logLevel);
  logger.info(
    {
      store: config.redisUrl ? 'redis' : 'memory',
      config: config.configPath,
      mode: config.mode,
    },
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

  let relay: ReturnType<typeof createRelay>;
  try {
    relay = createRelay(config, { logger });
  } catch (err) {
    logger.error({ error: (err as Error).message }, 'relay.config_invalid');
    process.exit(1);
  }
  if (config.mode !== 'web') relay.worker.start();
  const listening = config.mode === 'worker' ? Promise.resolve(undefined) : relay.listen(config.port);
  listening.then(
    (server) => {
      logger.info(
        { port: server?.port, destinations: relay.destinations.map((d) => `${d.id} (${d.template.id}, ${d.mode})`) },
        server ? `relay listening on port ${server.port}` : 'relay worker running',
      );
    },
    (err: Error) => {
      logger.error({ error: err.message }, 'relay.listen_failed');
      process.exit(1);
    },
  );

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'relay.shutting_down');
    relay.close(SHUTDOWN_GRACE_MS).then(
      () => process.exit(0),
      (err: Error) => {
        logger.error({ error: err.message }, 'relay.shutdown_failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
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

main();
