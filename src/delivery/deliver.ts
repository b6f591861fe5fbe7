import type { Destination } from '../destinations/destination.js';
import {
  classifyResponse,
  redactRequest,
  redactText,
  renderPostback,
  type Classification,
  type RenderedRequest,
} from '../destinations/index.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { ClaimedJob, Outbox, PostbackLog, PostbackLogEntry, PostbackStatus } from '../store/types.js';
import { parseRetryAfter, retryDelayMs } from './backoff.js';
import { TransportError, type Answer, type Sender } from './send.js';

export interface DeliveryDeps {
  outbox: Outbox;
  log: PostbackLog;
  destinations: ReadonlyMap<string, Destination>;
  sender: Sender;
  logger: Logger;
  metrics: Metrics;
  now: () => number;
}

/** What the postback log keeps of a network's answer: enough to read its verdict. */
const LOGGED_BODY_CHARS = 500;

/**
 * One attempt at one job: render, send, classify, then settle it (done, retry later, or give up)
 * and record the attempt in the postback log.
 */
export async function deliverJob(claimed: ClaimedJob, deps: DeliveryDeps): Promise<void> {
  const { job, attempt } = claimed;
  const base = {
    destination: job.destination,
    event_name: job.event.event_name,
    transaction_id: job.event.transaction_id,
    click_id: job.clickId,
    job_id: job.id,
    attempt,
  };
  const destination = deps.destinations.get(job.destination);
  if (!destination) {
    await settle(claimed, deps, { ...base, status: 'rejected', reason: `destination "${job.destination}" is no longer configured` });
    return;
  }
  let rendered: RenderedRequest;
  try {
    rendered = renderPostback(destination.template, { event: job.event, clickId: job.clickId, settings: destination.settings });
  } catch (err) {
    await settle(claimed, deps, { ...base, status: 'rejected', reason: `not sent: ${(err as Error).message}` });
    return;
  }
  const shown = redactRequest(destination.template, destination.settings, rendered);
  const request = { method: shown.method, url: shown.url, body: shown.body };
  if (destination.mode === 'dry_run') {
    await settle(claimed, deps, { ...base, request, status: 'dry_run', reason: 'dry_run mode: rendered and logged, not sent' });
    return;
  }

  let answer: Answer | undefined;
  let verdict: Classification;
  try {
    answer = await deps.sender.send(rendered, destination.timeoutMs);
    verdict = classifyResponse(destination.template, answer);
  } catch (err) {
    if (!(err instanceof TransportError)) throw err;
    verdict = { outcome: 'retry', reason: err.message };
  }
  const hide = (text: string) => redactText(destination.template, destination.settings, text);
  verdict = { ...verdict, reason: hide(verdict.reason) };
  deps.metrics.postbackDuration.labels(destination.id).observe((answer?.durationMs ?? 0) / 1000);
  const attemptEntry = {
    ...base,
    request,
    response: answer ? { status: answer.status, body: hide(answer.body.slice(0, LOGGED_BODY_CHARS)) } : undefined,
    duration_ms: answer ? Math.round(answer.durationMs) : undefined,
  };
  if (verdict.outcome !== 'retry') {
    await settle(claimed, deps, { ...attemptEntry, status: verdict.outcome, reason: verdict.reason });
    return;
  }
  const now = deps.now();
  const retryAfter = parseRetryAfter(headerValue(answer?.headers['retry-after']), now);
  const delay = retryDelayMs(attempt, destination.retry.delaysMs, retryAfter);
  const age = now - job.acceptedAt;
  if (delay === undefined || age + delay > destination.retry.maxAgeMs) {
    const why = delay === undefined ? `all ${attempt} attempts failed` : `the next attempt would pass the ${destination.retry.maxAgeMs / 3_600_000} h maximum age`;
    await settle(claimed, deps, { ...attemptEntry, status: 'dead', reason: `gave up: ${why}; last answer: ${verdict.reason}` });
    return;
  }
  const dueAt = now + delay;
  await record(deps, { ...attemptEntry, status: 'retrying', reason: verdict.reason, next_attempt_at: new Date(dueAt).toISOString() });
  await deps.outbox.retryAt(claimed, dueAt, 'retrying');
}

async function settle(
  claimed: ClaimedJob,
  deps: DeliveryDeps,
  entry: Omit<PostbackLogEntry, 'at'>,
): Promise<void> {
  await record(deps, entry);
  await deps.outbox.complete(claimed, entry.status);
}

async function record(deps: DeliveryDeps, entry: Omit<PostbackLogEntry, 'at'>): Promise<void> {
  const full: PostbackLogEntry = { at: new Date(deps.now()).toISOString(), ...entry };
  deps.metrics.postbacks.labels(entry.destination, entry.status satisfies PostbackStatus).inc();
  const line = { ...full, response: undefined, request: undefined };
  if (entry.status === 'dead') deps.logger.error(line, 'postback.dead');
  else deps.logger.info(line, 'postback.attempt');
  try {
    await deps.log.append(full);
  } catch (err) {
    // The structured log line above already carries the outcome; the settle below must still run.
    deps.logger.warn({ job_id: entry.job_id, err: (err as Error).message }, 'postback_log.append_failed');
  }
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
