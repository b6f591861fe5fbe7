import type { RelayEvent } from '../events/event.js';

/**
 * Where a visitor's clicks are kept: under the relay's cookie ID, and under the visitor ID that
 * the hit's GA4 client ID stands for (`client`), which is often the same one.
 */
export interface VisitorRef {
  kind: 'visitor' | 'client';
  id: string;
}

export interface StoredClick {
  destination: string;
  clickId: string;
  capturedAt: number;
}

/** A landing whose click ID was refused, kept so a later conversion can say why it has no click. */
export interface RefusedClick {
  destination: string;
  at: number;
  reason: string;
}

export interface VisitorClicks {
  clicks: StoredClick[];
  refused: RefusedClick[];
}

/** A stored click as read back, with the ref it was found under. */
export interface FoundClick extends StoredClick {
  via: VisitorRef['kind'];
}

export interface FoundClicks {
  clicks: FoundClick[];
  refused: RefusedClick[];
}

export interface ClickStore {
  /** Stores the newest clicks (replacing older ones per destination) and refusals, under every ref. */
  save(refs: VisitorRef[], update: VisitorClicks, ttlMs: number): Promise<void>;
  /** Merges what every ref holds, keeping the newest entry per destination. */
  read(refs: VisitorRef[]): Promise<FoundClicks>;
}

export interface ConversionJob {
  id: string;
  destination: string;
  event: RelayEvent;
  clickId: string;
  clickSource: 'explicit' | 'visitor' | 'client' | 'none';
  clickCapturedAt: number | undefined;
  acceptedAt: number;
}

/** A job handed to one worker; `attempt` counts from 1, and restarts at a replay. */
export interface ClaimedJob {
  job: ConversionJob;
  attempt: number;
  /** When the job's current delivery began: its acceptance, or its latest replay. Bounds its age. */
  since: number;
  /** The store's handle for this delivery (a stream entry ID in Redis). */
  receipt: string;
}

export type JobState = 'queued' | 'retrying' | 'settled' | 'dead';

/** A job that reached a final outcome without being delivered, kept until it is replayed. */
export interface DeadLetter {
  job: ConversionJob;
  at: number;
  outcome: string;
  reason: string;
}

/** Which dead letters to replay: by job ID, or every one that died in a time range (epoch ms). */
export interface ReplaySelection {
  ids?: string[] | undefined;
  from?: number | undefined;
  to?: number | undefined;
}

/** Why a replay skipped an ID the store has no record of (on Redis, a job queued since its acceptance has none). */
export const NO_DEAD_JOB = 'no dead job by this ID: it is queued for its first attempt, expired, or unknown';

export interface ReplayResult {
  replayed: string[];
  skipped: Array<{ id: string; why: string }>;
}

export type AcceptResult =
  | { accepted: true }
  | { accepted: false; firstJobId: string; firstAcceptedAt: number };

export interface Outbox {
  /**
   * Atomically: claims the dedup key, records the job and queues it. Repeating the call with the
   * same job ID (a lost reply re-sent) reports it accepted again and queues nothing new.
   * `payload` is the job's JSON, when the caller has serialized it already.
   */
  accept(job: ConversionJob, dedupKey: string, dedupTtlMs: number, payload?: string): Promise<AcceptResult>;
  /** Up to `max` queued jobs for this consumer, waiting at most `waitMs` for one to arrive. */
  claim(consumer: string, max: number, waitMs: number): Promise<ClaimedJob[]>;
  /** The job reached a final outcome (delivered, or deliberately not sent): it leaves the queue. */
  complete(claimed: ClaimedJob, outcome: string): Promise<void>;
  /** The job will not be delivered (final rejection, or gave up): it moves to the dead letters. */
  deadLetter(claimed: ClaimedJob, outcome: string, reason: string, at: number): Promise<void>;
  /**
   * The job is due again at `dueAt` (epoch ms). `countAttempt: false` when it was put back without
   * being sent (its destination's circuit is open).
   */
  retryAt(claimed: ClaimedJob, dueAt: number, outcome: string, countAttempt?: boolean): Promise<void>;
  /**
   * Moves jobs whose retry time has come back into the queue (on Redis, with those a version before
   * queued in its own stream); returns how many.
   */
  promoteDue(now: number): Promise<number>;
  /** Takes over jobs another consumer claimed and did not settle within `minIdleMs`. */
  reclaim(consumer: string, minIdleMs: number, max: number): Promise<ClaimedJob[]>;
  /**
   * Says that this consumer is still working on these claimed jobs (by receipt), so that `reclaim`
   * does not hand them to another worker while they wait for their destination or its answer.
   * Jobs settled already, or taken over by another consumer, are left alone; returns how many
   * were still this consumer's.
   */
  keepClaimed(consumer: string, receipts: readonly string[]): Promise<number>;
  /** Jobs accepted and not yet settled: queued, in delivery, or waiting to retry. */
  backlog(): Promise<number>;
  /** Newest first. */
  deadLetters(limit: number): Promise<DeadLetter[]>;
  /**
   * Queues dead letters for delivery again, each once: a job that is no longer dead (delivered by
   * an earlier replay) is skipped. The dedup key is never touched, so no replay can pay twice.
   */
  replay(selection: ReplaySelection, now: number): Promise<ReplayResult>;
  /**
   * Where a job stands, by its record; undefined when the store has none. On Redis a job queued
   * and not yet settled, retried or dead has no record: `queuedJobIds` lists those.
   */
  state(jobId: string): Promise<JobState | undefined>;
  /** The IDs of the jobs queued, in delivery or waiting for a retry: for a reconciliation. */
  queuedJobIds(): Promise<Set<string>>;
  /**
   * Reconciliation: re-creates and queues a job the store lost (a failover, a restore from an old
   * snapshot), through the same dedup key. Does nothing when the job's record, or its dedup key, is
   * known: a settled job's record expires before its dedup key does, and it must never be sent
   * again. A job queued since its acceptance has no record on Redis, so a caller checks
   * `queuedJobIds` first: an evicted dedup key would not stop a second copy of it.
   */
  restore(job: ConversionJob, dedupKey: string, dedupTtlMs: number): Promise<'known' | 'duplicate' | 'restored'>;
}

/**
 * One destination's job for a conversion, made ready before its click is known, for a store that
 * attributes and accepts in one step: the store fills in the click it finds.
 */
export interface PreparedJob {
  destination: string;
  /** The destination's session window: an older click is not sent. */
  windowMs: number;
  /** An ad platform, which takes the conversion without a click when its group has none. */
  withoutClick: boolean;
  jobId: string;
  dedupKey: string;
  /** The job's JSON up to its click fields: every field before `clickId`, without the closing brace. */
  jobHead: string;
}

/** One attribution group of a conversion: whose clicks compete, and which jobs may be accepted. */
export interface PreparedGroup {
  name: string;
  /** Every destination in the group, in config order. */
  destinations: readonly string[];
  jobs: PreparedJob[];
}

/** The click a group's jobs were accepted on (undefined: the group had none). */
export interface GroupWinner {
  click: FoundClick | undefined;
  /**
   * The store had accepted this conversion for the group before (a command re-sent after its
   * reply was lost): the click is the one that earlier step chose, not one read now.
   */
  repeated: boolean;
}

export interface LastTouchAccepts {
  /** What the refs held, as `ClickStore.read` returns it. */
  found: FoundClicks;
  /** By group name. */
  winners: Map<string, GroupWinner>;
  /** By destination, for each job the store tried to accept. */
  results: Map<string, AcceptResult>;
}

/** PRODUCT.md's postback-log statuses. */
export type PostbackStatus =
  | 'success' | 'duplicate' | 'accepted_unverified' | 'invalid_click' | 'expired_click'
  | 'offer_inactive' | 'auth_failed' | 'rejected' | 'retrying' | 'dead' | 'dry_run' | 'no_click';

export interface PostbackLogEntry {
  at: string;
  destination: string;
  status: PostbackStatus;
  reason: string;
  event_name: string;
  transaction_id?: string | undefined;
  click_id?: string | undefined;
  job_id?: string | undefined;
  attempt?: number | undefined;
  /** The request as sent (or as it would have been, in dry run), with secrets redacted. */
  request?: { method: string; url: string; body?: string | undefined } | undefined;
  response?: { status: number; body: string } | undefined;
  duration_ms?: number | undefined;
  next_attempt_at?: string | undefined;
}

export interface PostbackLogFilter {
  transaction_id?: string | undefined;
  click_id?: string | undefined;
  destination?: string | undefined;
  status?: string | undefined;
  limit: number;
}

export interface PostbackLog {
  append(entry: PostbackLogEntry): Promise<void>;
  /** Newest first. */
  query(filter: PostbackLogFilter): Promise<PostbackLogEntry[]>;
}

export interface Store {
  readonly kind: 'redis' | 'memory';
  readonly clicks: ClickStore;
  readonly outbox: Outbox;
  /** The postback log as requests write and read it: in an outage, a write fails fast. */
  readonly log: PostbackLog;
  /**
   * The same log as the delivery worker writes it: on Redis, on the worker's connection, in the
   * pipeline that settles the job, so in an outage an entry waits with its settle.
   */
  readonly deliveryLog: PostbackLog;
  /**
   * Reads the refs' clicks and accepts each group's winning job in one step (one Redis round trip):
   * the newest click of the group, within its destination's window, or no click for a platform job
   * when the group has none; ties as in `attributeConversion`, whose rules these are. Stores
   * without it read, attribute and accept in separate steps.
   */
  acceptLastTouch?(refs: VisitorRef[], groups: PreparedGroup[], now: number, dedupTtlMs: number): Promise<LastTouchAccepts>;
  /** True when the store answers now; drives /ready. */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}

export function matchesFilter(entry: PostbackLogEntry, filter: PostbackLogFilter): boolean {
  return (
    (filter.transaction_id === undefined || entry.transaction_id === filter.transaction_id) &&
    (filter.click_id === undefined || entry.click_id === filter.click_id) &&
    (filter.destination === undefined || entry.destination === filter.destination) &&
    (filter.status === undefined || entry.status === filter.status)
  );
}

/** Keeps, per destination, the newest of several entries (clicks or refusals). */
export function newestPerDestination<T extends { destination: string }>(
  entries: T[],
  timeOf: (entry: T) => number,
): T[] {
  if (entries.length < 2) return entries;
  const newest = new Map<string, T>();
  for (const entry of entries) {
    const known = newest.get(entry.destination);
    if (!known || timeOf(entry) > timeOf(known)) newest.set(entry.destination, entry);
  }
  return [...newest.values()];
}
