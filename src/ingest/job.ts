import type { ConversionJob } from '../store/types.js';

/**
 * A job's JSON in two parts, so a store that attributes as it accepts (Store.acceptLastTouch) can
 * be handed the part that does not depend on the click and write the rest itself, byte for byte
 * as `jobJson` does (but for how each side escapes the click ID, which parses the same).
 */
export function jobHead(id: string, destination: string, eventJson: string): string {
  // The event is serialized once per conversion, not once per destination.
  return `{"id":${JSON.stringify(id)},"destination":${JSON.stringify(destination)},"event":${eventJson}`;
}

/** The whole job: what `JSON.stringify(job)` gives, from its head. */
export function jobJson(head: string, job: ConversionJob): string {
  const capturedAt = job.clickCapturedAt === undefined ? '' : `,"clickCapturedAt":${job.clickCapturedAt}`;
  return `${head},"clickId":${JSON.stringify(job.clickId)},"clickSource":"${job.clickSource}"${capturedAt},"acceptedAt":${job.acceptedAt}}`;
}
