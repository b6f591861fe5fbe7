import { dedupKeyFor } from '../attribution/dedup-key.js';
import { groupsConverting, newestInGroup, takesUnclicked, type Attribution } from '../attribution/resolve.js';
import { formattedClock } from '../clock.js';
import type { Destination } from '../destinations/destination.js';
import type { RelayEvent } from '../events/event.js';
import { randomId } from '../ids.js';
import type { Logger } from '../log.js';
import type { AcceptResult, ConversionJob, FoundClick, LastTouchAccepts, Outbox, PreparedGroup } from '../store/types.js';
import { jobHead } from './job.js';

/** How a decided job reaches the outbox, and the ID and JSON head it gets. */
export interface JobAcceptor {
  /** The job's ID and JSON head; its dedup key too, where it was fixed before the decision. */
  start(destination: string, event: RelayEvent): { id: string; head: string; dedupKey?: string };
  accept(job: ConversionJob, dedupKey: string, payload: string): Promise<AcceptResult>;
  /** Reports where the store's step and the decisions disagree, where jobs were accepted before being decided. */
  checkAgainst?(decisions: Attribution[], found: readonly FoundClick[]): void;
}

/** Jobs accepted by the outbox as they are decided: the store read the clicks in a step before. */
export function acceptingNow(outbox: Outbox, dedupTtlMs: number): JobAcceptor {
  return {
    start(destination, event) {
      const id = newJobId();
      return { id, head: jobHead(id, destination, JSON.stringify(event)) };
    },
    accept: (job, dedupKey, payload) => outbox.accept(job, dedupKey, dedupTtlMs, payload),
  };
}

/**
 * The jobs a conversion with a transaction ID may queue, one per converting destination, ready but
 * for their click (its dedup key does not depend on the click), for Store.acceptLastTouch.
 */
export function prepareGroups(destinations: readonly Destination[], event: RelayEvent): PreparedGroup[] {
  const eventJson = JSON.stringify(event);
  return groupsConverting(destinations, event.event_name).map((group): PreparedGroup => ({
    name: group.name,
    destinations: group.ids,
    jobs: group.members.map((destination) => {
      const jobId = newJobId();
      return {
        destination: destination.id,
        windowMs: destination.windowMs,
        withoutClick: takesUnclicked(destination),
        jobId,
        dedupKey: dedupKeyFor(destination.id, event, '', jobId),
        jobHead: jobHead(jobId, destination.id, eventJson),
      };
    }),
  }));
}

/**
 * The jobs the store accepted as it attributed (Store.acceptLastTouch). The decisions are made from
 * the clicks the store chose, so they describe what was queued; the store's rules and
 * attributeConversion's must still agree, and where they do not, it is reported. A job the
 * decisions send that the store did not try is accepted here after all.
 */
export function acceptedInOneStep(
  destinations: readonly Destination[],
  event: RelayEvent,
  groups: PreparedGroup[],
  done: LastTouchAccepts,
  fallback: JobAcceptor,
  logger: Logger,
): JobAcceptor {
  const prepared = new Map(groups.flatMap((group) => group.jobs.map((job) => [job.destination, job] as const)));
  const mismatch = (fields: object) => logger.error({ transaction_id: event.transaction_id, ...fields }, 'conversion.attribution_mismatch');
  return {
    start(destination, forEvent) {
      const job = prepared.get(destination);
      return job ? { id: job.jobId, head: job.jobHead, dedupKey: job.dedupKey } : fallback.start(destination, forEvent);
    },
    accept(job, dedupKey, payload) {
      const result = done.results.get(job.destination);
      if (result) return Promise.resolve(result);
      mismatch({ destination: job.destination, job_id: job.id, store: 'not tried' });
      return fallback.accept(job, dedupKey, payload);
    },
    checkAgainst(decisions, found) {
      for (const decision of decisions) {
        if (decision.kind !== 'send' && done.results.get(decision.destination.id)?.accepted) {
          mismatch({ destination: decision.destination.id, job_id: prepared.get(decision.destination.id)?.jobId, decision: decision.kind, store: 'accepted' });
        }
      }
      for (const group of groupsConverting(destinations, event.event_name)) {
        const chosen = done.winners.get(group.name);
        // A repeated step answers with the click it chose the first time, not what is stored now.
        if (!chosen || chosen.repeated) continue;
        const ours = newestInGroup(found, group.inGroup);
        if (!sameClick(ours, chosen.click)) mismatch({ group: group.name, store: describe(chosen.click), relay: describe(ours) });
      }
    },
  };
}

function sameClick(a: FoundClick | undefined, b: FoundClick | undefined): boolean {
  if (!a || !b) return a === b;
  return a.destination === b.destination && a.clickId === b.clickId && a.capturedAt === b.capturedAt && a.via === b.via;
}

const describe = (click: FoundClick | undefined) => (click ? `${click.destination} ${click.via} ${click.capturedAt}` : 'none');

/** A job ID starts with the millisecond it was made, in base 36. */
const jobIdTime = formattedClock((ms) => ms.toString(36));

export function newJobId(): string {
  return `${jobIdTime()}-${randomId(6)}`;
}
