/**
 * What a network's answer to a postback means for the conversion. A 200 alone proves little: most
 * affiliate platforms answer 200 and put the verdict in the body, so each template classifies.
 *
 * success / duplicate       the network has the conversion (a duplicate is "already recorded": done)
 * accepted_unverified       a 2xx whose body carries no verdict; nothing more can be learned
 * invalid_click, expired_click, offer_inactive, auth_failed, rejected
 *                           permanent: sending the same postback again cannot change the answer
 * retry                     transient (5xx, 408, 429): the same postback may succeed later
 */
export const OUTCOMES = [
  'success',
  'duplicate',
  'accepted_unverified',
  'invalid_click',
  'expired_click',
  'offer_inactive',
  'auth_failed',
  'rejected',
  'retry',
] as const;

export type Outcome = (typeof OUTCOMES)[number];

export interface Classification {
  outcome: Outcome;
  /** One sentence a marketer can read in the trace: the status, what matched, and a body excerpt. */
  reason: string;
}
