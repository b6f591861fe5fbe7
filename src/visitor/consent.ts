import type { Consent } from '../events/event.js';

/**
 * Whether the visitor allowed advertising storage. Absent signals mean consent is not managed on
 * the site (or not required), so the relay proceeds; only an explicit denial stops it.
 */
export function adStorageDenied(consent: Consent | undefined): boolean {
  return consent?.ad_storage === 'denied';
}
