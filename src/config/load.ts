import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { ConfigError } from '../errors.js';
import {
  ConfigFileSchema,
  EnvSchema,
  type ConfigFile,
  type LogLevel,
  type RelayMode,
} from './schema.js';

export interface RelayConfig {
  port: number;
  redisUrl: string | undefined;
  /** First signs; all verify, so a secret can be rotated without logging every visitor out. */
  cookieSecrets: string[];
  /** True when no RELAY_COOKIE_SECRET was given and a per-process secret was generated. */
  cookieSecretGenerated: boolean;
  adminToken: string | undefined;
  logLevel: LogLevel;
  mode: RelayMode;
  configPath: string;
  usingBundledExample: boolean;
  file: ConfigFile;
  /** Every value substituted from `${NAME}`: never to appear in a log line. */
  secretValues: string[];
}

const MIN_SECRET_LENGTH = 16;

/** The example config shipped with the relay, used when RELAY_CONFIG is not set. */
export function bundledExampleConfigPath(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, 'deploy', 'relay.example.yaml');
    if (existsSync(candidate)) return candidate;
    dir = dirname(dir);
  }
  throw new ConfigError('the bundled example config deploy/relay.example.yaml is missing');
}

/**
 * Reads the environment and the config file once, and fails with every problem listed. No other
 * module reads process.env.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): RelayConfig {
  // Parsed once per process: compiling zod's fast path for it would cost more than it saves.
  const parsedEnv = EnvSchema.safeParse(env, { jitless: true });
  if (!parsedEnv.success) {
    throw new ConfigError(`environment: ${z.prettifyError(parsedEnv.error)}`);
  }
  const e = parsedEnv.data;
  const configPath = e.RELAY_CONFIG ? resolve(e.RELAY_CONFIG) : bundledExampleConfigPath();
  const { file, secretValues } = loadConfigFile(configPath, env);
  const secrets = parseCookieSecrets(e.RELAY_COOKIE_SECRET);
  return Object.freeze({
    port: e.PORT,
    redisUrl: e.REDIS_URL,
    cookieSecrets: secrets ?? [randomBytes(32).toString('base64url')],
    cookieSecretGenerated: secrets === undefined,
    adminToken: e.RELAY_ADMIN_TOKEN,
    logLevel: e.LOG_LEVEL,
    mode: e.RELAY_MODE,
    configPath,
    usingBundledExample: !e.RELAY_CONFIG,
    file,
    secretValues,
  });
}

function parseCookieSecrets(raw: string | undefined): string[] | undefined {
  if (raw === undefined || raw.trim() === '') return undefined;
  const secrets = raw.split(',').map((s) => s.trim());
  const short = secrets.findIndex((s) => s.length < MIN_SECRET_LENGTH);
  if (short >= 0) {
    throw new ConfigError(
      `environment: RELAY_COOKIE_SECRET entry ${short + 1} is shorter than ${MIN_SECRET_LENGTH} characters; ` +
        'use a random value, e.g. `openssl rand -base64 32`',
    );
  }
  return secrets;
}

export function loadConfigFile(
  path: string,
  env: NodeJS.ProcessEnv,
): { file: ConfigFile; secretValues: string[] } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`${path}: cannot read the config file (${(err as Error).message})`);
  }
  let raw: unknown;
  try {
    // YAML 1.2 is a superset of JSON, so one parser reads both formats.
    raw = parseYaml(text);
  } catch (err) {
    throw new ConfigError(`${path}: not valid YAML or JSON: ${(err as Error).message}`);
  }
  const secretValues: string[] = [];
  const missing: string[] = [];
  const substituted = substituteEnv(raw, env, [], missing, secretValues);
  if (missing.length > 0) {
    throw new ConfigError(`${path}: ${missing.join('; ')}`, 'RELAY_CONFIG_MISSING_ENV');
  }
  const parsed = ConfigFileSchema.safeParse(substituted ?? {}, { jitless: true });
  if (!parsed.success) {
    throw new ConfigError(`${path}: ${z.prettifyError(parsed.error)}`);
  }
  const ids = parsed.data.destinations.map((d) => d.id);
  const repeated = ids.filter((id, i) => ids.indexOf(id) !== i);
  if (repeated.length > 0) {
    throw new ConfigError(`${path}: destination id "${repeated[0]}" is used more than once; ids must be unique`);
  }
  return { file: parsed.data, secretValues };
}

const ENV_REFERENCE = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

/** Replaces `${NAME}` in every string with the env var, collecting the names that are not set. */
function substituteEnv(
  value: unknown,
  env: NodeJS.ProcessEnv,
  path: string[],
  missing: string[],
  secretValues: string[],
): unknown {
  if (typeof value === 'string') {
    return value.replace(ENV_REFERENCE, (_whole, name: string) => {
      const found = env[name];
      if (found === undefined || found === '') {
        missing.push(`${path.join('.') || '(root)'}: environment variable ${name} is not set`);
        return '';
      }
      secretValues.push(found);
      return found;
    });
  }
  if (Array.isArray(value)) {
    return value.map((v, i) => substituteEnv(v, env, [...path, String(i)], missing, secretValues));
  }
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, substituteEnv(v, env, [...path, k], missing, secretValues)]),
    );
  }
  return value;
}
