import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface Metrics {
  registry: Registry;
  events: Counter<'client'>;
  captures: Counter<'destination' | 'result'>;
  conversions: Counter<'destination' | 'decision'>;
  postbacks: Counter<'destination' | 'status'>;
  postbackDuration: Histogram<'destination'>;
  rejectedRequests: Counter<'code'>;
  /** Filled at scrape time from the store. */
  outboxBacklog: Gauge;
}

export function createMetrics(backlog: () => Promise<number>): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  return {
    registry,
    events: new Counter({ name: 'relay_events_total', help: 'Events received, by client', labelNames: ['client'], registers }),
    captures: new Counter({
      name: 'relay_click_captures_total',
      help: 'Click IDs found on landings: stored or refused',
      labelNames: ['destination', 'result'],
      registers,
    }),
    conversions: new Counter({
      name: 'relay_conversions_total',
      help: 'Conversion decisions: accepted, duplicate, no_click, expired_click',
      labelNames: ['destination', 'decision'],
      registers,
    }),
    postbacks: new Counter({
      name: 'relay_postbacks_total',
      help: 'Postback attempts by outcome',
      labelNames: ['destination', 'status'],
      registers,
    }),
    postbackDuration: new Histogram({
      name: 'relay_postback_duration_seconds',
      help: 'Time for a network to answer a postback',
      labelNames: ['destination'],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    rejectedRequests: new Counter({
      name: 'relay_rejected_requests_total',
      help: 'Requests answered with an error, by error code',
      labelNames: ['code'],
      registers,
    }),
    outboxBacklog: new Gauge({
      name: 'relay_outbox_backlog',
      help: 'Conversions accepted and not yet settled (queued, in delivery or waiting to retry)',
      registers,
      async collect() {
        try {
          this.set(await backlog());
        } catch {
          // Store down: leave the last value; /ready reports the outage.
        }
      },
    }),
  };
}
