import { hash } from 'node:crypto';
import type { RelayEvent } from '../events/event.js';

/**
 * Destination + transaction ID; without one, destination + click ID + event name. Hashed, so order
 * IDs and click IDs do not sit in Redis key names. A conversion with neither (an ad platform's
 * unclicked event without an order ID) has nothing to be a duplicate of: its own job ID keys it.
 */
export function dedupKeyFor(destinationId: string, event: RelayEvent, clickId: string, jobId: string): string {
  const basis = event.transaction_id !== undefined
    ? `${destinationId}\u0000t\u0000${event.transaction_id}`
    : clickId !== ''
      ? `${destinationId}\u0000c\u0000${clickId}\u0000${event.event_name}`
      : `${destinationId}\u0000j\u0000${jobId}`;
  // The one-shot form: no Hash object per conversion.
  return hash('sha256', basis, 'base64url').slice(0, 32);
}
