import { http } from '@google-cloud/functions-framework';
import { loadConfig } from './config/load.js';
import { createLogger } from './log.js';
import { createRelay } from './relay.js';
import { announceStartup, assertSharedCookieSecret } from './startup.js';

/*
 * Cloud Functions (Cloud Run functions) entry: functions-framework loads this file and calls the
 * `relay` function for every request. There is no background loop: conversions are delivered in
 * the request that queued them, and a Cloud Scheduler job POSTs /admin/drain for the rest.
 * functions-framework exits on SIGTERM without draining; anything in flight stays queued.
 */
const config = loadConfig();
assertSharedCookieSecret(config, true);
const logger = createLogger(config.logLevel);
announceStartup(config, logger, 'function');
const relay = createRelay(config, { logger, host: 'function' });

http('relay', await relay.app());
