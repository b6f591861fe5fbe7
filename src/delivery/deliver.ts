import type { Destination } from '../destinations/destination.js';
import {
  classifyResponse,
  redactRequest,
  redactText,
  renderPostback,
  type Classification,
  type RenderedRequest,
} from '../destinations/index.js';
import { writeLogLine, type Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { ClaimedJob, Outbox, PostbackLog, PostbackLogEntry, PostbackStatus } from '../store/types.js';
import { parseRetryAfter, retryDelayMs } from './backoff.js';
import type { DestinationGate } from './gate.js';
import { TransportError, type Answer, type Sender } from './send.js';

export interface DeliveryDeps {
  outbox: Outbox;
  log: PostbackLog;
  destinations: ReadonlyMap<string, Destination>;
  gates: ReadonlyMap<string, DestinationGate>;
  sender: Sender;
  logger: Logger;
  metrics: Metrics;
  now: () => number;
}

/** What the postback log keeps of a network's answer: enough to read its verdict. */
const LOGGED_BODY_CHARS = 500;

/** Final outcomes where the network has the conversion, or was deliberately not asked. */
const CLOSED: ReadonlySet<PostbackStatus> = new Set(['success', 'duplicate', 'accepted_unverified', 'dry_run']);

/**
 * One attempt at one job: render, send, classify, then settle it: done, dead letter (a final
 * rejection, or out of retries), or retry later. Every attempt is recorded in the postback log.
 */
export async function deliverJob(claimed: ClaimedJob, deps: DeliveryDeps): Promise<void> {
  const { job, attempt } = claimed;
  // One entry per attempt, filled in as the attempt goes (every field present from the start, so
  // the object keeps one shape): this runs once per postback.
  const entry: PostbackLogEntry = {
    at: '',
    destination: job.destination,
    event_name: job.event.event_name,
    transaction_id: job.event.transaction_id,
    click_id: job.clickId,
    job_id: job.id,
    attempt,
    status: 'rejected',
    reason: '',
    request: undefined,
    response: undefined,
    duration_ms: undefined,
    next_attempt_at: undefined,
  };
  const destination = deps.destinations.get(job.destination);
  if (!destination) {
    entry.reason = `destination "${job.destination}" is no longer configured`;
    return settle(claimed, deps, entry);
  }
  let rendered: RenderedRequest;
  try {
    rendered = renderPostback(destination.template, {
      event: job.event,
      clickId: job.clickId,
      settings: destination.settings,
      conversionAt: job.acceptedAt,
      ...(job.clickCapturedAt !== undefined ? { clickCapturedAt: job.clickCapturedAt } : {}),
    });
  } catch (err) {
    entry.reason = `not sent: ${(err as Error).message}`;
    return settle(claimed, deps, entry);
  }
  const shown = redactRequest(destination.secrets, rendered);
  entry.request = { method: shown.method, url: shown.url, body: shown.body };
  if (destination.mode === 'dry_run') {
    entry.status = 'dry_run';
    entry.reason = 'dry_run mode: rendered and logged, not sent';
    return settle(claimed, deps, entry);
  }

  const gate = deps.gates.get(destination.id);
  const blockedUntil = gate?.blockedUntil();
  if (blockedUntil !== undefined) {
    // Put back without an attempt: the network is down, asking again now only adds load.
    deps.logger.debug({ job_id: job.id, destination: destination.id, until: new Date(blockedUntil).toISOString() }, 'postback.circuit_open');
    await deps.outbox.retryAt(claimed, blockedUntil + Math.random() * 1000, 'circuit_open', false);
    return;
  }
  const release = await gate?.acquire();
  let answer: Answer | undefined;
  let verdict: Classification;
  let durationMs: number;
  try {
    answer = await deps.sender.send(rendered, destination.timeoutMs);
    durationMs = answer.durationMs;
    verdict = classifyResponse(destination.template, answer);
  } catch (err) {
    if (!(err instanceof TransportError)) throw err;
    durationMs = err.durationMs;
    verdict = { outcome: err.retryable ? 'retry' : 'rejected', reason: err.message };
  } finally {
    release?.();
  }
  // Read once: the breaker's next probe and the job's next attempt both follow the network's wait.
  const retryAfter = verdict.outcome === 'retry' ? retryAfterOf(answer, deps.now()) : undefined;
  gate?.record(verdict.outcome !== 'retry', retryAfter);
  deps.metrics.postbackDuration(destination.id).observe(durationMs / 1000);
  const hide = (text: string) => redactText(destination.secrets, text);
  entry.reason = hide(verdict.reason);
  if (answer) entry.response = { status: answer.status, body: hide(answer.body.slice(0, LOGGED_BODY_CHARS)) };
  entry.duration_ms = Math.round(durationMs);
  const { outcome } = verdict;
  if (outcome !== 'retry') {
    entry.status = outcome;
    return settle(claimed, deps, entry);
  }
  await retryOrGiveUp(claimed, deps, destination, entry, retryAfter);
}

async function retryOrGiveUp(
  claimed: ClaimedJob,
  deps: DeliveryDeps,
  destination: Destination,
  entry: PostbackLogEntry,
  retryAfter: number | undefined,
): Promise<void> {
  const now = deps.now();
  const delay = retryDelayMs(claimed.attempt, destination.retry.delaysMs, retryAfter);
  const age = now - claimed.since;
  if (delay === undefined || age + delay > destination.retry.maxAgeMs) {
    const why = delay === undefined
      ? `all ${claimed.attempt} attempts failed`
      : `the next attempt would pass the ${destination.retry.maxAgeMs / 3_600_000} h maximum age`;
    entry.status = 'dead';
    entry.reason = `gave up: ${why}; last answer: ${entry.reason}`;
    return settle(claimed, deps, entry);
  }
  const dueAt = now + delay;
  entry.status = 'retrying';
  entry.next_attempt_at = new Date(dueAt).toISOString();
  await Promise.all([record(deps, entry), deps.outbox.retryAt(claimed, dueAt, 'retrying')]);
}

/**
 * Records the final outcome and closes the job, or moves it to the dead letters for a replay. Both
 * writes go out together, in one round trip: a failed log write does not stop the settling.
 */
async function settle(claimed: ClaimedJob, deps: DeliveryDeps, entry: PostbackLogEntry): Promise<void> {
  const settled = CLOSED.has(entry.status)
    ? deps.outbox.complete(claimed, entry.status)
    : deps.outbox.deadLetter(claimed, entry.status, entry.reason, deps.now());
  await Promise.all([record(deps, entry), settled]);
}

async function record(deps: DeliveryDeps, entry: PostbackLogEntry): Promise<void> {
  entry.at = new Date(deps.now()).toISOString();
  deps.metrics.postbacks(entry.destination, entry.status).inc();
  // The line leaves out the request and the answer (objects): the postback log keeps those.
  if (entry.status === 'dead') writeLogLine(deps.logger, 'error', 'postback.dead', entry);
  else writeLogLine(deps.logger, 'info', 'postback.attempt', entry);
  try {
    await deps.log.append(entry);
  } catch (err) {
    // The structured log line above already carries the outcome; settling the job must still happen.
    deps.logger.warn({ job_id: entry.job_id, err: (err as Error).message }, 'postback_log.append_failed');
  }
}

/** The wait a network's Retry-After header asks for, in ms, if it sent one. */
function retryAfterOf(answer: Answer | undefined, now: number): number | undefined {
  const value = answer?.headers['retry-after'];
  return parseRetryAfter(Array.isArray(value) ? value[0] : value, now);
}
