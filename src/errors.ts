/**
 * Every error the relay raises on purpose carries a stable code (RELAY_<AREA>_<WHAT>), the HTTP
 * status it maps to when it reaches a client, and a message written to teach the reader what to fix.
 */
export class RelayError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 500,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** A request the relay will not accept as sent: always a 4xx, never retried by the sender. */
export class BadRequestError extends RelayError {
  constructor(code: string, message: string, status = 400) {
    super(code, message, status);
  }
}

/** The store did not answer in time; the sender should retry the same request. */
export class StoreUnavailableError extends RelayError {
  constructor(message = 'the event store is unavailable; retry the request') {
    super('RELAY_STORE_UNAVAILABLE', message, 503);
  }
}

/** A configuration or template problem found at startup; the message names file and path. */
export class ConfigError extends RelayError {
  constructor(message: string, code = 'RELAY_CONFIG_INVALID') {
    super(code, message, 500);
  }
}
