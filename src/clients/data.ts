import { BadRequestError } from '../errors.js';
import type { RelayEvent } from '../events/event.js';
import { normalizeEvent } from './normalize.js';
import { forEachParam } from './query.js';

const MAX_EVENTS = 100;

/**
 * The JSON client: one event object or an array of them. sendBeacon cannot set a JSON content
 * type, so `text/plain` bodies are read as JSON too.
 */
export function parseDataBody(body: string, contentType: string | undefined): RelayEvent[] {
  const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json' && type !== 'text/plain' && type !== '') {
    throw new BadRequestError(
      'RELAY_UNSUPPORTED_MEDIA_TYPE',
      `/data: Content-Type "${type}" is not accepted; send application/json or text/plain`,
      415,
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch (err) {
    throw new BadRequestError('RELAY_BODY_MALFORMED', `/data: the body is not valid JSON (${(err as Error).message})`);
  }
  const items = Array.isArray(parsed) ? parsed : [parsed];
  if (items.length === 0) throw new BadRequestError('RELAY_EVENT_INVALID', '/data: the array holds no events');
  if (items.length > MAX_EVENTS) {
    throw new BadRequestError('RELAY_EVENT_INVALID', `/data: ${items.length} events in one request; at most ${MAX_EVENTS}`);
  }
  return items.map((item, i) => {
    const where = Array.isArray(parsed) ? `/data event ${i + 1}` : '/data';
    if (item === null || typeof item !== 'object' || Array.isArray(item)) {
      throw new BadRequestError('RELAY_EVENT_INVALID', `${where}: each event must be a JSON object`);
    }
    return normalizeEvent(item as Record<string, unknown>, where);
  });
}

/** The pixel client: the same fields as query parameters of `GET /data`. */
export function parseDataQuery(query: string): RelayEvent {
  const fields: Record<string, unknown> = {};
  forEachParam(query, (key, value) => (fields[key] = value));
  return normalizeEvent(fields, 'GET /data');
}
