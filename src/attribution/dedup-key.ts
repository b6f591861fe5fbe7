import { createHash } from 'node:crypto';
import type { RelayEvent } from '../events/event.js';

/**
 * Destination + transaction ID; without one, destination + click ID + event name. Hashed, so order
 * IDs and click IDs do not sit in Redis key names.
 */
export function dedupKeyFor(destinationId: string, event: RelayEvent, clickId: string): string {
  const basis = event.transaction_id !== undefined
    ? `${destinationId}\u0000t\u0000${event.transaction_id}`
    : `${destinationId}\u0000c\u0000${clickId}\u0000${event.event_name}`;
  return createHash('sha256').update(basis).digest('base64url').slice(0, 32);
}
