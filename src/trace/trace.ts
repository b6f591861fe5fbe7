/**
 * What the relay decided about one event, stage by stage, and why. Written once as the event is
 * processed; the admin API and the logs read it, nothing re-derives the decisions.
 */
export type TraceStage = 'visitor' | 'consent' | 'capture' | 'attribution' | 'dedup' | 'enqueue';

export interface TraceStep {
  stage: TraceStage;
  destination?: string;
  decision: string;
  detail: string;
}

export interface EventTrace {
  at: string;
  client: string;
  event_name: string;
  transaction_id?: string | undefined;
  client_id?: string | undefined;
  steps: TraceStep[];
}

/** The most recent traces of this process, for the admin API; older ones fall off. */
export class TraceRecorder {
  private readonly ring: EventTrace[] = [];
  private next = 0;

  constructor(private readonly capacity = 500) {}

  record(trace: EventTrace): void {
    if (this.ring.length < this.capacity) this.ring.push(trace);
    else this.ring[this.next] = trace;
    this.next = (this.next + 1) % this.capacity;
  }

  /** Newest first. */
  recent(limit: number, keep: (t: EventTrace) => boolean = () => true): EventTrace[] {
    const ordered = [...this.ring.slice(this.next), ...this.ring.slice(0, this.next)].reverse();
    return ordered.filter(keep).slice(0, limit);
  }
}
