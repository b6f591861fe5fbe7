import type { DestinationConfig } from '../config/schema.js';
import { ConfigError } from '../errors.js';
import { redactText, secretSettingValues } from './redact.js';
import { resolveSettings } from './settings.js';
import type { Template } from './template.js';

/**
 * The default retry schedule: 5 s … 24 h, about 68.6 h in all, under a 72 h maximum age, the way
 * Stripe and Svix retry webhooks. A destination may set its own.
 */
export const DEFAULT_RETRY_DELAYS_SECONDS = [5, 30, 300, 1800, 7200, 21600, 43200, 86400, 86400];
export const DEFAULT_MAX_AGE_HOURS = 72;

/** A click stays stored up to this long (at most its window again) after its window closes. */
const EXPIRED_CLICK_GRACE_MS = 7 * 86_400_000;

/** Affiliate destinations share this attribution group unless configured otherwise. */
export const AFFILIATE_GROUP = 'affiliate';

/** A configured destination bound to its template, with every default applied. */
export interface Destination {
  id: string;
  template: Template;
  mode: 'live' | 'dry_run';
  clickParams: string[];
  clickIdPattern: RegExp;
  clickIdMaxLength: number;
  windowMs: number;
  /**
   * How long a captured click is kept: past the window, so a late conversion is reported
   * `expired_click` with how late it was, instead of finding nothing.
   */
  clickRetentionMs: number;
  conversionEvents: ReadonlySet<string>;
  /** Destinations in one group share last-touch attribution: one sale pays one of them. */
  group: string;
  settings: Record<string, string>;
  /**
   * Every value to hide wherever a request or an answer is shown: the template's secret settings,
   * and whatever came from an environment variable (`${NAME}`) into this destination's settings.
   */
  secrets: string[];
  retry: { delaysMs: number[]; maxAgeMs: number };
  timeoutMs: number;
  maxConcurrency: number;
  circuitBreaker: { failureThreshold: number; coolDownMs: number };
}

export function bindDestinations(
  configs: readonly DestinationConfig[],
  templates: ReadonlyMap<string, Template>,
  configPath: string,
  envValues: readonly string[] = [],
): Destination[] {
  const problems: string[] = [];
  const bound: Destination[] = [];
  configs.forEach((config, i) => {
    const where = `destinations[${i}] (${config.id})`;
    const template = templates.get(config.template);
    if (!template) {
      const known = [...templates.keys()].sort().join(', ');
      problems.push(`${where}.template: no template "${config.template}" in templates/destinations (known: ${known})`);
      return;
    }
    try {
      bound.push(bindOne(config, template, where, envValues));
    } catch (err) {
      // A value that came from the environment may be a key: never echo it in a startup error.
      problems.push(redactText(envValues, (err as Error).message));
    }
  });
  if (problems.length > 0) throw new ConfigError(`${configPath}:\n  ${problems.join('\n  ')}`);
  return bound;
}

function bindOne(config: DestinationConfig, template: Template, where: string, envValues: readonly string[]): Destination {
  const settings = resolveSettings(template, config.settings, `${where}.settings`);
  const fromEnv = envValues.filter((value) => Object.values(settings).some((setting) => setting.includes(value)));
  // The operator's choice, else the network's own policy (its template), else the relay's default.
  const delaysSeconds = config.retry?.delaysSeconds ?? template.retry?.delaysSeconds ?? DEFAULT_RETRY_DELAYS_SECONDS;
  return {
    id: config.id,
    template,
    mode: config.mode,
    clickParams: config.clickParams ?? template.capture.params,
    clickIdPattern: template.capture.pattern,
    clickIdMaxLength: template.capture.maxLength,
    windowMs: config.sessionHours * 3_600_000,
    clickRetentionMs: config.sessionHours * 3_600_000 + Math.min(config.sessionHours * 3_600_000, EXPIRED_CLICK_GRACE_MS),
    conversionEvents: new Set(config.conversionEvents),
    group: config.attributionGroup ?? (template.kind === 'affiliate' ? AFFILIATE_GROUP : config.id),
    settings,
    secrets: [...new Set([...secretSettingValues(template, settings), ...fromEnv])],
    retry: {
      delaysMs: delaysSeconds.map((s) => s * 1000),
      maxAgeMs: (config.retry?.maxAgeHours ?? template.retry?.maxAgeHours ?? DEFAULT_MAX_AGE_HOURS) * 3_600_000,
    },
    timeoutMs: config.timeoutMs ?? template.request.timeoutMs,
    maxConcurrency: config.maxConcurrency,
    circuitBreaker: {
      failureThreshold: config.circuitBreaker.failureThreshold,
      coolDownMs: config.circuitBreaker.coolDownSeconds * 1000,
    },
  };
}
