import { loadConfig, type RelayConfig } from './config/load.js';
import { createLogger, createStdout } from './log.js';
import { createRelay, type Relay } from './relay.js';
import { announceStartup, assertSharedCookieSecret } from './startup.js';

/*
 * Cloud Run entry: the only module (with function.ts) that touches the process — it reads the
 * environment, listens, and drains on SIGTERM inside Cloud Run's 10 s before SIGKILL.
 */

/** Postbacks in flight get this long to finish after SIGTERM. */
const SHUTDOWN_GRACE_MS = 8_000;
/** Whatever still hangs by then (a store that does not answer), the process exits before the kill. */
const SHUTDOWN_DEADLINE_MS = 9_500;

function fail(message: string, error: unknown): never {
  process.stderr.write(`${JSON.stringify({ severity: 'ERROR', message, error: (error as Error).message })}\n`);
  process.exit(1);
}

function main(): void {
  let config: RelayConfig;
  try {
    config = loadConfig();
    assertSharedCookieSecret(config, config.mode !== 'worker');
  } catch (err) {
    fail('relay.config_invalid', err);
  }
  const stdout = createStdout();
  process.on('exit', () => stdout.flushSync());
  const logger = createLogger(config.logLevel, stdout);
  announceStartup(config, logger, 'server');
  let relay: Relay;
  try {
    relay = createRelay(config, { logger });
  } catch (err) {
    fail('relay.config_invalid', err);
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
    (err: Error) => fail('relay.listen_failed', err),
  );

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'relay.shutting_down');
    setTimeout(() => {
      logger.error('relay.shutdown_deadline: exiting with work unfinished; it stays queued for another instance');
      process.exit(1);
    }, SHUTDOWN_DEADLINE_MS).unref();
    relay.close(SHUTDOWN_GRACE_MS).then(
      () => process.exit(0),
      (err: Error) => fail('relay.shutdown_failed', err),
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

main();
