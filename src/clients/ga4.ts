import { BadRequestError } from '../errors.js';
import type { ParamValue, RelayEvent } from '../events/event.js';
import { eventOf, type EventFields } from './normalize.js';
import { forEachParam } from './query.js';
import { slice, startsWith } from '../strings.js';

/** gtag batches a handful of events per request; far more than this is not a browser tag. */
const MAX_EVENTS = 50;

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

/**
 * One GA4 event's fields as they are read, in slots of their own (EventFields) and the other
 * parameters apart: a hit is parsed per request, and a record keyed by every parameter name cost
 * more than the rest of the parse.
 */
class Ga4Fields implements EventFields {
  event_name: unknown = undefined;
  page_location: unknown = undefined;
  page_referrer: unknown = undefined;
  client_id: unknown = undefined;
  user_id: unknown = undefined;
  transaction_id: unknown = undefined;
  click_id: unknown = undefined;
  value: unknown = undefined;
  currency: unknown = undefined;
  consent: unknown = undefined;
  gcs: unknown = undefined;
  gcd: unknown = undefined;
  ad_storage: unknown = undefined;
  analytics_storage: unknown = undefined;
  params: Record<string, ParamValue> = {};

  /** Sets a field by its event name, or else the parameter of that name. */
  set(name: string, value: string | number): void {
    switch (name) {
      case 'event_name': this.event_name = value; break;
      case 'page_location': this.page_location = value; break;
      case 'page_referrer': this.page_referrer = value; break;
      case 'client_id': this.client_id = value; break;
      case 'user_id': this.user_id = value; break;
      case 'transaction_id': this.transaction_id = value; break;
      case 'click_id': this.click_id = value; break;
      case 'value': this.value = value; break;
      case 'currency': this.currency = value; break;
      case 'consent': this.consent = value; break;
      case 'gcs': this.gcs = value; break;
      case 'gcd': this.gcd = value; break;
      case 'ad_storage': this.ad_storage = value; break;
      case 'analytics_storage': this.analytics_storage = value; break;
      default: this.params[name] = value;
    }
  }
}

/** One event: the shared parameters, then the event's own line, which overrides them. */
function ga4Event(shared: string, own: string | undefined, where: string): RelayEvent {
  const fields = new Ga4Fields();
  const assign = (key: string, value: string) => assignGa4Param(fields, key, value, where);
  forEachParam(shared, assign);
  if (own !== undefined) forEachParam(own, assign);
  if (fields.event_name === undefined) {
    throw new BadRequestError('RELAY_EVENT_INVALID', `${where}: the GA4 event name "en" is missing`);
  }
  return eventOf(fields, fields.params, where);
}

/** A GA4 web-protocol parameter (as gtag sends it) under the event's field names. */
function assignGa4Param(fields: Ga4Fields, key: string, value: string, where: string): void {
  switch (key) {
    case 'en': fields.event_name = value; return;
    case 'dl': fields.page_location = value; return;
    case 'dr': fields.page_referrer = value; return;
    case 'cid': fields.client_id = value; return;
    case 'uid': fields.user_id = value; return;
    case 'cu': fields.currency = value; return;
  }
  if (startsWith(key, 'ep.')) {
    fields.set(slice(key, 3), value);
  } else if (startsWith(key, 'epn.')) {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n)) {
      throw new BadRequestError('RELAY_EVENT_INVALID', `${where}: "${key}" must be a number`);
    }
    fields.set(slice(key, 4), n);
  } else {
    fields.set(key, value);
  }
}
