/*
 * The one shape every client produces and every later stage reads. Field names follow GA4's, so a
 * marketer who knows GA4 event data can read a relay trace without a glossary.
 */

/** A JSON value, as the tag sent it. */
export type ParamValue = string | number | boolean | null | ParamValue[] | { [key: string]: ParamValue };

export type ConsentState = 'granted' | 'denied';

export interface Consent {
  ad_storage?: ConsentState;
  analytics_storage?: ConsentState;
  /** GA4 consent mode strings, kept as sent, for the trace. */
  gcs?: string;
  gcd?: string;
}

export interface RelayEvent {
  event_name: string;
  page_location?: string;
  page_referrer?: string;
  client_id?: string;
  user_id?: string;
  transaction_id?: string;
  value?: number;
  currency?: string;
  /** An explicit click ID the site already knows; wins over the stored ones on a conversion. */
  click_id?: string;
  consent?: Consent;
  /** Every other parameter, kept as given. */
  params: Record<string, ParamValue>;
}
