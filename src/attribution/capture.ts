import { forEachParam } from '../clients/query.js';
import { placeholderReason } from '../events/macro.js';
import { truncate } from '../text.js';
import type { RelayEvent } from '../events/event.js';
import type { Destination } from '../destinations/destination.js';
import type { RefusedClick, StoredClick } from '../store/types.js';
import { includes, indexOf, slice } from '../strings.js';

export interface CaptureResult {
  clicks: StoredClick[];
  refused: RefusedClick[];
  /** One line per click parameter found, accepted or not, for the trace. */
  notes: Array<{ destination: string; param: string; accepted: boolean; reason: string }>;
}

/**
 * Reads each destination's click parameters from the landing URL (the page's own URL, or the
 * Referer header when the tag did not send one, as an image pixel cannot). The first valid value
 * per destination wins; refused values are reported with the reason and never stored.
 */
export function captureClicks(
  event: RelayEvent,
  referer: string | undefined,
  destinations: readonly Destination[],
  now: number,
): CaptureResult {
  const result: CaptureResult = { clicks: [], refused: [], notes: [] };
  const landing = event.page_location ?? referer;
  if (!landing || !includes(landing, '?')) return result;
  const params = queryOf(landing);
  for (const destination of destinations) {
    let firstRefusal: string | undefined;
    for (const param of destination.clickParams) {
      const value = params.get(param);
      if (value === undefined) continue;
      const reason = refusalReason(value, destination);
      if (reason === undefined) {
        result.clicks.push({ destination: destination.id, clickId: value, capturedAt: now });
        result.notes.push({ destination: destination.id, param, accepted: true, reason: `${param}=${value}` });
        firstRefusal = undefined;
        break;
      }
      const message = `${param}: ${reason}`;
      firstRefusal ??= message;
      result.notes.push({ destination: destination.id, param, accepted: false, reason: message });
    }
    if (firstRefusal !== undefined) result.refused.push({ destination: destination.id, at: now, reason: firstRefusal });
  }
  return result;
}

/** The landing URL's query parameters, the first value of each, decoded as the hit's own are. */
function queryOf(url: string): Map<string, string> {
  const start = indexOf(url, '?');
  const hash = indexOf(url, '#', start);
  const params = new Map<string, string>();
  forEachParam(slice(url, start + 1, hash < 0 ? undefined : hash), (name, value) => {
    if (!params.has(name)) params.set(name, value);
  });
  return params;
}

/** Why a landing value cannot be this destination's click ID, or undefined when it can. */
export function refusalReason(value: string, destination: Destination): string | undefined {
  const placeholder = placeholderReason(value);
  if (placeholder) return placeholder;
  if (value.length > destination.clickIdMaxLength) {
    return `the value is ${value.length} characters long; at most ${destination.clickIdMaxLength} are accepted`;
  }
  if (destination.clickIdPattern && !destination.clickIdPattern.test(value)) {
    return `"${truncate(value)}" does not match ${destination.template.id}'s click-ID pattern ${destination.clickIdPattern.source}`;
  }
  return undefined;
}
