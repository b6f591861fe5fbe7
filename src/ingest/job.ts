import type { RelayEvent } from '../events/event.js';
import type { ConversionJob } from '../store/types.js';

/**
 * A job's JSON in two parts, so a store that attributes as it accepts (Store.acceptLastTouch) can
 * be handed the part that does not depend on the click and write the rest itself, byte for byte
 * as `jobJson` does (but for how each side escapes the click ID, which parses the same).
 */
export function jobHead(id: string, destination: string, event: RelayEvent): string {
  const whole = JSON.stringify({ id, destination, event });
  return whole.slice(0, -1);
}

/** The whole job: what `JSON.stringify(job)` gives, from its head. */
export function jobJson(head: string, job: ConversionJob): string {
  const capturedAt = job.clickCapturedAt === undefined ? '' : `,"clickCapturedAt":${job.clickCapturedAt}`;
  return `${head},"clickId":${JSON.stringify(job.clickId)},"clickSource":"${job.clickSource}"${capturedAt},"acceptedAt":${job.acceptedAt}}`;
}
