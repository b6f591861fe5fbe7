import { z } from 'zod';

/** RFC 6265bis §5.6.2: browsers cap a cookie's lifetime at 400 days; longer values are clamped. */
export const MAX_COOKIE_AGE_DAYS = 400;

const DestinationId = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'use lower-case letters, digits, "-" or "_" (at most 64)');

const RetrySchema = z
  .object({
    delaysSeconds: z.array(z.number().positive()).min(1).optional(),
    maxAgeHours: z.number().positive().optional(),
  })
  .strict();

export const DestinationSchema = z
  .object({
    id: DestinationId,
    template: z.string().min(1),
    mode: z.enum(['live', 'dry_run']).default('dry_run'),
    clickParams: z.array(z.string().min(1)).min(1).optional(),
    sessionHours: z.number().positive().default(720),
    conversionEvents: z.array(z.string().min(1)).min(1).default(['purchase']),
    attributionGroup: z.string().min(1).optional(),
    settings: z.record(z.string(), z.unknown()).default({}),
    retry: RetrySchema.optional(),
    timeoutMs: z.number().int().min(100).max(60_000).optional(),
    /** Postbacks in flight at once to this destination, per relay process. */
    maxConcurrency: z.number().int().min(1).max(1024).default(16),
    circuitBreaker: z
      .object({
        failureThreshold: z.number().int().min(1).default(10),
        coolDownSeconds: z.number().positive().default(30),
      })
      .strict()
      .default({ failureThreshold: 10, coolDownSeconds: 30 }),
  })
  .strict();

export const ConfigFileSchema = z
  .object({
    cookie: z
      .object({
        name: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/).default('rl_vid'),
        domain: z.string().regex(/^\.?[A-Za-z0-9.-]+$/).optional(),
        maxAgeDays: z.number().positive().max(MAX_COOKIE_AGE_DAYS).default(395),
      })
      .strict()
      .default({ name: 'rl_vid', maxAgeDays: 395 }),
    allowedOrigins: z.array(z.url({ protocol: /^https?$/ })).optional(),
    dedupDays: z.number().positive().default(90),
    postbackLog: z
      .object({ maxEntries: z.number().int().min(100).default(100_000) })
      .strict()
      .default({ maxEntries: 100_000 }),
    delivery: z
      .object({
        /** Postbacks in flight at once in one relay process, across destinations. */
        concurrency: z.number().int().min(1).max(4096).default(64),
        /** How long one claim waits for new work; also how often due retries are moved back. */
        pollMs: z.number().int().min(5).max(10_000).default(250),
        /**
         * A job claimed by a worker that has not settled it for this long is taken over by another:
         * that worker died. Default: twice the longest destination timeout, plus 5 s.
         */
        reclaimIdleSeconds: z.number().positive().optional(),
      })
      .strict()
      .default({ concurrency: 64, pollMs: 250 }),
    destinations: z.array(DestinationSchema).default([]),
  })
  .strict();

export type DestinationConfig = z.infer<typeof DestinationSchema>;
export type ConfigFile = z.infer<typeof ConfigFileSchema>;

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const RELAY_MODES = ['all', 'web', 'worker'] as const;
export type RelayMode = (typeof RELAY_MODES)[number];

export const EnvSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65_535).default(8080),
  RELAY_CONFIG: z.string().min(1).optional(),
  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\//, 'must start with redis:// or rediss://')
    .optional(),
  RELAY_COOKIE_SECRET: z.string().optional(),
  RELAY_ADMIN_TOKEN: z.string().min(16, 'use at least 16 characters').optional(),
  LOG_LEVEL: z.enum(LOG_LEVELS).default('info'),
  RELAY_MODE: z.enum(RELAY_MODES).default('all'),
});
