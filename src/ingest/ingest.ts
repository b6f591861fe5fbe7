import { captureClicks, type CaptureResult } from '../attribution/capture.js';
import { dedupKeyFor } from '../attribution/dedup-key.js';
import { attributeConversion, type Attribution, type ClickSource } from '../attribution/resolve.js';
import { isoClock } from '../clock.js';
import type { Destination } from '../destinations/destination.js';
import type { RelayEvent } from '../events/event.js';
import { writeLogLine, type Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { EventTrace, TraceRecorder, TraceStep } from '../trace/trace.js';
import type { ConversionJob, FoundClicks, LastTouchAccepts, PostbackLogEntry, Store, VisitorRef } from '../store/types.js';
import { acceptedInOneStep, acceptingNow, prepareGroups, type JobAcceptor } from './accept.js';
import { jobJson } from './job.js';
import type { Visitor } from '../visitor/cookie.js';
import { adStorageDenied } from '../visitor/consent.js';

export type ClientName = 'ga4' | 'data' | 'pixel';

export interface Hit {
  client: ClientName;
  events: RelayEvent[];
  visitor: Visitor;
  /** The Referer header: the landing URL for a pixel hit that did not send one. */
  referer: string | undefined;
  /**
   * What the request says about the browser. Ad-platform APIs (Meta, TikTok) match conversions on
   * these, so conversions carry them as event parameters, unless the tag sent its own. Read only
   * for conversions: a page view pays nothing for it.
   */
  browser?: () => BrowserFacts;
}

export interface BrowserFacts {
  client_ip_address?: string | undefined;
  client_user_agent?: string | undefined;
  /** Meta's and TikTok's first-party browser cookies, when the relay shares the site's domain. */
  fbp?: string | undefined;
  ttp?: string | undefined;
}

export interface HitResult {
  /** Whether the response should carry the visitor cookie. */
  setCookie: boolean;
  traces: EventTrace[];
  /** Conversions accepted into the outbox by this hit. */
  accepted: number;
}

export interface IngestDeps {
  store: Store;
  /** The visitor ID a GA4 client ID stands for (see VisitorCookies.visitorIdForClient). */
  visitorIdForClient: (clientId: string) => string;
  destinations: readonly Destination[];
  dedupTtlMs: number;
  traces: TraceRecorder;
  metrics: Metrics;
  logger: Logger;
  now: () => number;
}

/**
 * A hit with nothing to store or look up (most page views) is decided at once and returns its
 * result; one that waits for the store returns a promise of it.
 */
export type Ingest = (hit: Hit) => HitResult | Promise<HitResult>;

/** What one hit's events add up to, as they are decided. */
interface HitState {
  setCookie: boolean;
  consentDenied: boolean;
  accepted: number;
  traces: EventTrace[];
}

/**
 * The relay's decisions for one request: capture click IDs on landings, attribute, deduplicate
 * and enqueue conversions. A store failure propagates (the client answers 503, the tag retries);
 * every write is idempotent, so a retried request does no harm.
 */
export function createIngest(deps: IngestDeps): Ingest {
  const converting = new Set(deps.destinations.flatMap((d) => [...d.conversionEvents]));

  const debug = deps.logger.isLevelEnabled('debug');
  const clock = isoClock(deps.now);

  const acceptLastTouch = deps.store.acceptLastTouch?.bind(deps.store);
  const acceptNow = acceptingNow(deps.store.outbox, deps.dedupTtlMs);

  return function ingest(hit) {
    const state: HitState = { setCookie: hit.visitor.issue, consentDenied: false, accepted: 0, traces: [] };
    // Without a promise until an event has to wait for the store: a page view's answer then needs
    // no turn of the microtask queue.
    for (let i = 0; i < hit.events.length; i++) {
      const waiting = decide(hit, hit.events[i]!, state);
      if (waiting) return decideRest(hit, i + 1, waiting, state);
    }
    return resultOf(state);
  };

  async function decideRest(hit: Hit, next: number, waiting: Promise<void>, state: HitState): Promise<HitResult> {
    await waiting;
    for (let i = next; i < hit.events.length; i++) await decide(hit, hit.events[i]!, state);
    return resultOf(state);
  }

  function resultOf(state: HitState): HitResult {
    return { setCookie: state.setCookie && !state.consentDenied, traces: state.traces, accepted: state.accepted };
  }

  /** One event's decisions; a promise when it must wait for the store, else undefined (all done). */
  function decide(hit: Hit, event: RelayEvent, state: HitState): Promise<void> | undefined {
    const trace: EventTrace = {
      at: clock(),
      client: hit.client,
      event_name: event.event_name,
      transaction_id: event.transaction_id,
      client_id: event.client_id,
      steps: [VISITOR_STEPS[hit.visitor.cookie]],
    };
    state.traces.push(trace);
    deps.metrics.events(hit.client).inc();
    const denied = adStorageDenied(event.consent);
    let captured: CaptureResult | undefined;
    if (denied) {
      state.consentDenied = true;
      trace.steps.push(CONSENT_DENIED_STEP);
    } else {
      captured = captureClicks(event, hit.referer, deps.destinations, deps.now());
      // Most page views carry no click parameter: nothing to trace, nothing to store.
      if (captured.notes.length === 0) captured = undefined;
    }
    const converts = converting.has(event.event_name);
    if (captured || converts) return decideWithStore(hit, event, trace, captured, converts, denied, state);
    finish(trace);
    return undefined;
  }

  async function decideWithStore(
    hit: Hit,
    event: RelayEvent,
    trace: EventTrace,
    captured: CaptureResult | undefined,
    converts: boolean,
    denied: boolean,
    state: HitState,
  ): Promise<void> {
    if (captured && (await keepCaptured(event, hit, trace, captured))) state.setCookie = true;
    if (converts) state.accepted += await convert(withBrowserFacts(event, hit.browser?.()), hit, trace, denied);
    finish(trace);
  }

  function finish(trace: EventTrace): void {
    deps.traces.record(trace);
    if (debug) deps.logger.debug({ trace }, 'event.trace');
  }

  /** Traces what a landing carried and stores it; resolves to true when a valid click was stored. */
  async function keepCaptured(event: RelayEvent, hit: Hit, trace: EventTrace, captured: CaptureResult): Promise<boolean> {
    for (const note of captured.notes) {
      trace.steps.push({
        stage: 'capture',
        destination: note.destination,
        decision: note.accepted ? 'stored' : 'refused',
        detail: note.reason,
      });
      deps.metrics.captures(note.destination, note.accepted ? 'stored' : 'refused').inc();
    }
    const touched = new Set([...captured.clicks, ...captured.refused].map((c) => c.destination));
    const ttlMs = Math.max(...deps.destinations.filter((d) => touched.has(d.id)).map((d) => d.clickRetentionMs));
    await deps.store.clicks.save(refsOf(hit.visitor, event, true, deps.visitorIdForClient), captured, ttlMs);
    return captured.clicks.length > 0;
  }

  /** Attributes, deduplicates and enqueues one conversion; resolves to the number of jobs queued. */
  async function convert(event: RelayEvent, hit: Hit, trace: EventTrace, consentDenied: boolean): Promise<number> {
    const refs = refsOf(hit.visitor, event, hit.visitor.cookie === 'valid' && !consentDenied, deps.visitorIdForClient);
    const now = deps.now();
    let found: FoundClicks = { clicks: [], refused: [] };
    let winners: LastTouchAccepts['winners'] | undefined;
    let jobs = acceptNow;
    // One step where the store can take it: the dedup key must not depend on the click (a
    // transaction ID), and an explicit click ID's rules (its pattern) stay here.
    if (refs.length > 0 && acceptLastTouch && event.transaction_id !== undefined && event.click_id === undefined) {
      const groups = prepareGroups(deps.destinations, event);
      const done = await acceptLastTouch(refs, groups, now, deps.dedupTtlMs);
      found = done.found;
      winners = done.winners;
      jobs = acceptedInOneStep(deps.destinations, event, groups, done, acceptNow, deps.logger);
    } else if (refs.length > 0) {
      found = await deps.store.clicks.read(refs);
    }
    const decisions = attributeConversion({
      event,
      found,
      lookupGap: refs.length === 0 ? lookupGap(hit.visitor, consentDenied) : undefined,
      destinations: deps.destinations,
      now,
      winners,
    });
    const settled = await Promise.all(decisions.map((decision) => settleDecision(event, decision, trace, now, jobs)));
    jobs.checkAgainst?.(decisions, found.clicks);
    return settled.filter(Boolean).length;
  }

  /** Resolves to true when the decision queued a job. */
  async function settleDecision(event: RelayEvent, decision: Attribution, trace: EventTrace, now: number, jobs: JobAcceptor): Promise<boolean> {
    const destination = decision.destination.id;
    const base = { destination, event_name: event.event_name, transaction_id: event.transaction_id };
    if (decision.kind === 'no_click') {
      trace.steps.push({ stage: 'attribution', destination, decision: 'no_click', detail: decision.reason });
      deps.metrics.conversions(destination, 'no_click').inc();
      await appendLog({ ...base, status: 'no_click', reason: decision.reason });
      return false;
    }
    if (decision.kind === 'expired') {
      const reason =
        `the click from ${new Date(decision.capturedAt).toISOString()} is outside the ${hours(decision.destination.windowMs)} h ` +
        `session window by ${hours(decision.lateByMs)} h; not sent (the network would answer "Expired click_id")`;
      trace.steps.push({ stage: 'attribution', destination, decision: 'expired_click', detail: reason });
      deps.metrics.conversions(destination, 'expired_click').inc();
      await appendLog({ ...base, click_id: decision.clickId, status: 'expired_click', reason });
      return false;
    }
    trace.steps.push({ stage: 'attribution', destination, decision: 'attributed', detail: attributionDetail(decision.clickId, decision.source) });
    const started = jobs.start(destination, event);
    const job: ConversionJob = {
      id: started.id,
      destination,
      event,
      clickId: decision.clickId,
      clickSource: decision.source,
      clickCapturedAt: decision.capturedAt,
      acceptedAt: now,
    };
    const dedupKey = started.dedupKey ?? dedupKeyFor(destination, event, decision.clickId, job.id);
    // Serialized once: the store keeps it and the audit line carries it.
    const payload = jobJson(started.head, job);
    const result = await jobs.accept(job, dedupKey, payload);
    if (!result.accepted) {
      const reason =
        `already accepted at ${new Date(result.firstAcceptedAt).toISOString()} as job ${result.firstJobId} ` +
        `(${event.transaction_id !== undefined ? `transaction_id ${event.transaction_id}` : `click ${decision.clickId} + ${event.event_name}`}); not sent again`;
      trace.steps.push({ stage: 'dedup', destination, decision: 'duplicate', detail: reason });
      deps.metrics.conversions(destination, 'duplicate').inc();
      await appendLog({ ...base, click_id: decision.clickId, status: 'duplicate', reason, job_id: result.firstJobId });
      return false;
    }
    trace.steps.push({ stage: 'enqueue', destination, decision: 'accepted', detail: `job ${job.id} queued for delivery` });
    deps.metrics.conversions(destination, 'accepted').inc();
    // The audit trail: one line per accepted conversion, carrying the whole job, so a reconciliation
    // can re-create any job the store lost (`npm run reconcile`).
    writeLogLine(
      deps.logger,
      'info',
      'conversion.accepted',
      { job_id: job.id, destination, transaction_id: event.transaction_id, dedup_key: dedupKey },
      { job: payload },
    );
    return true;
  }

  async function appendLog(entry: Omit<PostbackLogEntry, 'at'>): Promise<void> {
    try {
      await deps.store.log.append({ at: new Date(deps.now()).toISOString(), ...entry });
    } catch (err) {
      deps.logger.warn({ destination: entry.destination, status: entry.status, err: (err as Error).message }, 'postback_log.append_failed');
    }
  }
}

/**
 * Conversions only: page views never carry IP addresses or user agents into storage. The event was
 * parsed for this request alone, so the facts go into its parameters in place, without a copy.
 */
function withBrowserFacts(event: RelayEvent, facts: BrowserFacts | undefined): RelayEvent {
  if (!facts) return event;
  const { params } = event;
  let name: keyof BrowserFacts;
  for (name in facts) {
    const value = facts[name];
    if (value && params[name] === undefined) params[name] = value;
  }
  return event;
}

function attributionDetail(clickId: string, source: ClickSource): string {
  if (source === 'none') return 'no click: an ad-platform destination receives every conversion';
  if (source === 'explicit') return `click ${clickId} (explicit click_id on the event)`;
  return `click ${clickId} (stored under the ${source === 'client' ? 'GA4 client_id' : 'visitor cookie'})`;
}

/**
 * Where this visitor's clicks live: under the cookie's visitor ID and under the one its GA4 client
 * ID stands for. For a visitor first seen with a client ID the two are the same record.
 */
function refsOf(
  visitor: Visitor,
  event: RelayEvent,
  includeVisitor: boolean,
  visitorIdForClient: (clientId: string) => string,
): VisitorRef[] {
  const refs: VisitorRef[] = [];
  if (includeVisitor) refs.push({ kind: 'visitor', id: visitor.id });
  if (event.client_id) {
    const id = visitorIdForClient(event.client_id);
    if (!includeVisitor || id !== visitor.id) refs.push({ kind: 'client', id });
  }
  return refs;
}

function lookupGap(visitor: Visitor, consentDenied: boolean): string {
  if (consentDenied) return 'ad_storage consent is denied and the event has no GA4 client_id or explicit click_id';
  const cookie = visitor.cookie === 'invalid' ? 'its visitor cookie failed signature verification' : 'no visitor cookie came with it';
  return `nothing to look up: ${cookie}, and the event has no GA4 client_id or explicit click_id`;
}

/** The first step of every trace; shared, as most events repeat one of these three. */
const VISITOR_STEPS: Readonly<Record<Visitor['cookie'], TraceStep>> = {
  valid: Object.freeze({ stage: 'visitor', decision: 'valid', detail: 'signed visitor cookie verified' }),
  missing: Object.freeze({ stage: 'visitor', decision: 'missing', detail: 'no visitor cookie: a new visitor ID was issued' }),
  invalid: Object.freeze({
    stage: 'visitor',
    decision: 'invalid',
    detail: 'the visitor cookie failed signature verification: ignored, a new visitor ID was issued',
  }),
};

const CONSENT_DENIED_STEP: TraceStep = Object.freeze({
  stage: 'consent',
  decision: 'ad_storage denied',
  detail: 'no cookie set and no click ID stored for this event',
});

function hours(ms: number): string {
  return (ms / 3_600_000).toFixed(ms < 36_000_000 ? 2 : 1);
}
