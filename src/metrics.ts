import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** One labelled counter's series: counted in a plain number, read by prom-client at scrape time. */
export interface CounterChild {
  inc(): void;
}
type HistogramChild = ReturnType<Histogram['labels']>;

/**
 * The relay's Prometheus metrics. Each labelled metric is reached through a function that keeps
 * its children, and counters count in plain numbers: prom-client hashes and validates the label
 * set on every increment, and these are incremented on every hit.
 */
export interface Metrics {
  registry: Registry;
  events(client: string): CounterChild;
  captures(destination: string, result: 'stored' | 'refused'): CounterChild;
  conversions(destination: string, decision: 'accepted' | 'duplicate' | 'no_click' | 'expired_click'): CounterChild;
  postbacks(destination: string, status: string): CounterChild;
  postbackDuration(destination: string): HistogramChild;
  rejectedRequests(code: string): CounterChild;
}

function memoized<C>(labels: (...values: string[]) => C): (...values: string[]) => C {
  const children = new Map<string, C>();
  return (...values) => {
    const key = values.length === 1 ? values[0]! : values.join('\u0000');
    let child = children.get(key);
    if (!child) children.set(key, (child = labels(...values)));
    return child;
  };
}

export function createMetrics(backlog: () => Promise<number>): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  const counter = (name: string, help: string, labelNames: string[]) => {
    const series: Array<{ labels: Record<string, string>; count: number }> = [];
    new Counter({
      name, help, labelNames, registers,
      collect() {
        this.reset();
        for (const { labels, count } of series) this.inc(labels, count);
      },
    });
    return memoized((...values) => {
      const child = { labels: Object.fromEntries(labelNames.map((name, i) => [name, values[i]!])), count: 0 };
      series.push(child);
      return { inc: () => void child.count++ };
    });
  };
  const duration = new Histogram({
    name: 'relay_postback_duration_seconds',
    help: 'Time for a network to answer a postback',
    labelNames: ['destination'],
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers,
  });
  new Gauge({
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
  });
  return {
    registry,
    events: counter('relay_events_total', 'Events received, by client', ['client']),
    captures: counter('relay_click_captures_total', 'Click IDs found on landings: stored or refused', ['destination', 'result']),
    conversions: counter(
      'relay_conversions_total',
      'Conversion decisions: accepted, duplicate, no_click, expired_click',
      ['destination', 'decision'],
    ),
    postbacks: counter('relay_postbacks_total', 'Postback attempts by outcome', ['destination', 'status']),
    postbackDuration: memoized((destination) => duration.labels(destination)),
    rejectedRequests: counter('relay_rejected_requests_total', 'Requests answered with an error, by error code', ['code']),
  };
}
