import { BadRequestError } from '../errors.js';
import type { RelayEvent } from '../events/event.js';
import { normalizeEvent } from './normalize.js';
import { forEachParam } from './query.js';

/** gtag batches a handful of events per request; far more than this is not a browser tag. */
const MAX_EVENTS = 50;

/** GA4 web-protocol names (as gtag sends them) → the event's field names. */
const RENAMES: Record<string, string> = {
  en: 'event_name',
  dl: 'page_location',
  dr: 'page_referrer',
  cid: 'client_id',
  uid: 'user_id',
  cu: 'currency',
};

/**
 * A GA4 `/g/collect` hit: shared parameters in the query string, and optionally one query string
 * per line in a POST body, each line one more event that inherits the shared ones.
 */
export function parseGa4Hit(query: string, body: string): RelayEvent[] {
  const lines = body === '' ? [] : body.split(/\r?\n/).filter((line) => line.trim() !== '');
  if (lines.length > MAX_EVENTS) {
    throw new BadRequestError('RELAY_EVENT_INVALID', `/g/collect: ${lines.length} events in one request; at most ${MAX_EVENTS}`);
  }
  if (lines.length === 0) return [ga4Event(query, undefined, '/g/collect')];
  return lines.map((line, i) => ga4Event(query, line, `/g/collect event ${i + 1}`));
}

/** One event: the shared parameters, then the event's own line, which overrides them. */
function ga4Event(shared: string, own: string | undefined, where: string): RelayEvent {
  const fields: Record<string, unknown> = {};
  const assign = (key: string, value: string) => assignGa4Param(fields, key, value, where);
  forEachParam(shared, assign);
  if (own !== undefined) forEachParam(own, assign);
  if (fields.event_name === undefined) {
    throw new BadRequestError('RELAY_EVENT_INVALID', `${where}: the GA4 event name "en" is missing`);
  }
  return normalizeEvent(fields, where);
}

function assignGa4Param(fields: Record<string, unknown>, key: string, value: string, where: string): void {
  const renamed = RENAMES[key];
  if (renamed) {
    fields[renamed] = value;
  } else if (key.startsWith('ep.')) {
    fields[key.slice(3)] = value;
  } else if (key.startsWith('epn.')) {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n)) {
      throw new BadRequestError('RELAY_EVENT_INVALID', `${where}: "${key}" must be a number`);
    }
    fields[key.slice(4)] = n;
  } else {
    fields[key] = value;
  }
}
