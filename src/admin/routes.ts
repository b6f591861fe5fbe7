import express, { Router, type Request } from 'express';
import { z } from 'zod';
import { BadRequestError, StoreUnavailableError } from '../errors.js';
import type { Logger } from '../log.js';
import type { PostbackLogFilter, Store } from '../store/types.js';
import type { TraceRecorder } from '../trace/trace.js';
import { requireAdminToken } from './auth.js';

const MAX_LIMIT = 1000;

export interface AdminDeps {
  store: Store;
  traces: TraceRecorder;
  adminToken: string | undefined;
  /** Delivers queued postbacks now, within a time budget. */
  drain: (budgetMs: number) => Promise<{ attempted: number }>;
  logger: Logger;
  now: () => number;
}

const ReplaySchema = z
  .object({
    ids: z.array(z.string().min(1).max(64)).max(10_000).optional(),
    from: z.iso.datetime({ offset: true }).optional(),
    to: z.iso.datetime({ offset: true }).optional(),
  })
  .strict()
  .refine((r) => r.ids !== undefined || r.from !== undefined || r.to !== undefined, {
    error: 'name the dead letters to replay: "ids", or a time range "from" / "to" (ISO 8601)',
  });

/** A drain must answer before a scheduler's HTTP timeout; this leaves room under a minute. */
const MAX_DRAIN_MS = 50_000;

export function createAdminRouter(deps: AdminDeps): Router {
  const router = Router();
  router.use(requireAdminToken(deps.adminToken));

  /** The postback log, newest first: what was sent, what the network answered, and why. */
  router.get('/postbacks', async (req, res) => {
    const filter: PostbackLogFilter = {
      transaction_id: stringParam(req, 'transaction_id'),
      click_id: stringParam(req, 'click_id'),
      destination: stringParam(req, 'destination'),
      status: stringParam(req, 'status'),
      limit: limitParam(req),
    };
    res.json({ postbacks: await deps.store.log.query(filter) });
  });

  /** This process's recent event traces: each stage's decision for each event. */
  router.get('/events', (req, res) => {
    const transactionId = stringParam(req, 'transaction_id');
    const clientId = stringParam(req, 'client_id');
    const traces = deps.traces.recent(
      limitParam(req),
      (t) =>
        (transactionId === undefined || t.transaction_id === transactionId) &&
        (clientId === undefined || t.client_id === clientId),
    );
    res.json({ events: traces });
  });

  /** Conversions that will not be delivered without a replay, newest first, with the last answer. */
  router.get('/dead-letters', async (req, res) => {
    const letters = await deps.store.outbox.deadLetters(limitParam(req));
    res.json({
      dead_letters: letters.map((l) => ({
        job_id: l.job.id,
        destination: l.job.destination,
        transaction_id: l.job.event.transaction_id,
        click_id: l.job.clickId,
        event_name: l.job.event.event_name,
        dead_at: new Date(l.at).toISOString(),
        outcome: l.outcome,
        reason: l.reason,
      })),
    });
  });

  /**
   * Queues dead letters for one more delivery each, by job ID or by when they died. Dedup keys are
   * untouched, so a replay can never pay an order twice; a second replay finds nothing dead.
   */
  router.post('/replay', express.json({ limit: '1mb' }), async (req, res) => {
    const parsed = ReplaySchema.safeParse(req.body ?? {});
    if (!parsed.success) {
      throw new BadRequestError('RELAY_REPLAY_INVALID', `replay: ${z.prettifyError(parsed.error)}`);
    }
    const { ids, from, to } = parsed.data;
    const result = await deps.store.outbox.replay(
      { ids, from: from ? Date.parse(from) : undefined, to: to ? Date.parse(to) : undefined },
      deps.now(),
    );
    deps.logger.info({ selection: parsed.data, replayed: result.replayed, skipped: result.skipped }, 'replay.done');
    res.json(result);
  });

  /**
   * Delivers what is due now. Cloud Functions has no background loop, so a scheduler calls this
   * every minute; on Cloud Run it is a manual nudge.
   */
  router.post('/drain', async (req, res) => {
    const raw = stringParam(req, 'budget_ms');
    const budget = raw === undefined ? 20_000 : Number(raw);
    if (!Number.isInteger(budget) || budget < 1 || budget > MAX_DRAIN_MS) {
      throw new BadRequestError('RELAY_QUERY_INVALID', `"budget_ms" must be a whole number from 1 to ${MAX_DRAIN_MS}`);
    }
    if (!(await deps.store.ping())) throw new StoreUnavailableError();
    const { attempted } = await deps.drain(budget);
    res.json({ attempted, backlog: await deps.store.outbox.backlog() });
  });

  return router;
}

function stringParam(req: Request, name: string): string | undefined {
  const value = req.query[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') {
    throw new BadRequestError('RELAY_QUERY_INVALID', `query parameter "${name}" must be given once, as text`);
  }
  return value;
}

function limitParam(req: Request): number {
  const raw = stringParam(req, 'limit');
  if (raw === undefined) return 100;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > MAX_LIMIT) {
    throw new BadRequestError('RELAY_QUERY_INVALID', `"limit" must be a whole number from 1 to ${MAX_LIMIT}`);
  }
  return n;
}
