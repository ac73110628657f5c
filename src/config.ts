import { resolve } from 'node:path';
import { parseDuration } from './domain/durations.js';

export interface Quotas {
  max_queues: number;
  max_listeners: number;
  max_api_keys: number;
  max_schedules: number;
}

export interface Config {
  port: number;
  host: string;
  dataDir: string;
  databaseUrl: string | undefined;
  databasePoolSize: number;
  databaseStatementTimeoutMs: number;
  publicUrl: string | undefined;
  rootApiKey: string | undefined;
  /** When set, `/metrics` needs `Authorization: Bearer <token>`. */
  metricsToken: string | undefined;
  allowPrivateTargets: boolean;
  retrySchedule: number[];
  deliveryTimeoutMs: number;
  livenessIntervalMs: number;
  rateLimitPerMinute: number;
  lockoutThreshold: number;
  lockoutWindowMs: number;
  lockoutDurationMs: number;
  maxDataBytes: number;
  messageRetentionMs: number;
  deliveryConcurrency: number;
  listenerConcurrency: number;
  pollIntervalMs: number;
  quotas: Quotas;
  /** How long a stopping process waits for requests and deliveries in flight. */
  shutdownTimeoutMs: number;
  logLevel: string;
}

export class ConfigError extends Error {}

type Env = Record<string, string | undefined>;

/** One parser per kind of value; each names the variable and what it expects when it fails. */
function read<T>(env: Env, name: string, fallback: T, parse: (raw: string) => T | undefined, expected: string): T {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = parse(raw.trim());
  if (value === undefined) throw new ConfigError(`${name}=${raw} is invalid: expected ${expected}`);
  return value;
}

const integer = (min: number, max: number) => (raw: string) => {
  if (!/^\d+$/.test(raw)) return undefined;
  const n = Number(raw);
  return n >= min && n <= max ? n : undefined;
};
const boolean = (raw: string) => (raw === 'true' || raw === '1' ? true : raw === 'false' || raw === '0' ? false : undefined);
const duration = (raw: string) => parseDuration(raw);
const text = (raw: string) => raw;
const byteSize = (raw: string) => {
  const m = /^(\d+)(b|kb|kib|mb|mib)?$/i.exec(raw);
  if (!m) return undefined;
  const unit = { b: 1, kb: 1000, kib: 1024, mb: 1_000_000, mib: 1_048_576 }[(m[2] ?? 'b').toLowerCase() as 'b'];
  return Number(m[1]) * unit;
};
const durationList = (raw: string) => {
  const parts = raw.split(',').map((p) => parseDuration(p));
  return parts.length > 0 && parts.every((p) => p !== undefined) ? (parts as number[]) : undefined;
};
const httpUrl = (raw: string) => {
  try {
    const url = new URL(raw);
    return url.protocol === 'http:' || url.protocol === 'https:' ? raw.replace(/\/+$/, '') : undefined;
  } catch {
    return undefined;
  }
};
const postgresUrl = (raw: string) => (/^postgres(ql)?:\/\//.test(raw) ? raw : undefined);

// About a day in total, front-loaded so short outages recover quickly.
export const DEFAULT_RETRY_SCHEDULE = '5s,30s,2m,10m,30m,1h,2h,4h,8h,8h';

export function loadConfig(env: Env = process.env): Config {
  return {
    port: read(env, 'PORT', 3000, integer(0, 65535), 'a port number 0-65535'),
    host: read(env, 'HOST', '0.0.0.0', text, 'a host name or address'),
    dataDir: resolve(read(env, 'DISCUE_DATA_DIR', './data', text, 'a directory path')),
    databaseUrl: read<string | undefined>(env, 'DISCUE_DATABASE_URL', undefined, postgresUrl, 'a postgres:// URL'),
    databasePoolSize: read(env, 'DISCUE_DATABASE_POOL_SIZE', 10, integer(1, 1000), 'a whole number of connections'),
    databaseStatementTimeoutMs: read(env, 'DISCUE_DATABASE_STATEMENT_TIMEOUT', 30_000, duration, 'a duration such as 30s'),
    publicUrl: read<string | undefined>(env, 'DISCUE_PUBLIC_URL', undefined, httpUrl, 'an http(s) URL'),
    rootApiKey: read<string | undefined>(env, 'DISCUE_ROOT_API_KEY', undefined, (raw) => (raw.length >= 16 ? raw : undefined), 'at least 16 characters'),
    metricsToken: read<string | undefined>(env, 'DISCUE_METRICS_TOKEN', undefined, (raw) => (raw.length >= 16 ? raw : undefined), 'at least 16 characters'),
    allowPrivateTargets: read(env, 'DISCUE_ALLOW_PRIVATE_TARGETS', false, boolean, 'true or false'),
    retrySchedule: read(env, 'DISCUE_RETRY_SCHEDULE', durationList(DEFAULT_RETRY_SCHEDULE)!, durationList, 'comma-separated durations such as 1s,5s,30s'),
    deliveryTimeoutMs: read(env, 'DISCUE_DELIVERY_TIMEOUT', 10_000, duration, 'a duration such as 10s'),
    livenessIntervalMs: read(env, 'DISCUE_LIVENESS_INTERVAL', 30_000, duration, 'a duration such as 30s'),
    rateLimitPerMinute: read(env, 'DISCUE_RATE_LIMIT_PER_MINUTE', 6000, integer(0, 10_000_000), 'a whole number of requests per minute (0 = off)'),
    lockoutThreshold: read(env, 'DISCUE_LOCKOUT_THRESHOLD', 10, integer(1, 1_000_000), 'a whole number of invalid keys'),
    lockoutWindowMs: read(env, 'DISCUE_LOCKOUT_WINDOW', 60_000, duration, 'a duration such as 1m'),
    lockoutDurationMs: read(env, 'DISCUE_LOCKOUT_DURATION', 300_000, duration, 'a duration such as 5m'),
    maxDataBytes: read(env, 'DISCUE_MAX_DATA_SIZE', 1_048_576, byteSize, 'a size in bytes such as 1048576 or 1MiB'),
    messageRetentionMs: read(env, 'DISCUE_MESSAGE_RETENTION', 7 * 86_400_000, duration, 'a duration such as 7d'),
    deliveryConcurrency: read(env, 'DISCUE_DELIVERY_CONCURRENCY', 256, integer(1, 100_000), 'a whole number of deliveries in flight'),
    listenerConcurrency: read(env, 'DISCUE_LISTENER_CONCURRENCY', 16, integer(1, 10_000), 'a whole number of deliveries in flight per listener'),
    pollIntervalMs: read(env, 'DISCUE_POLL_INTERVAL', 1_000, duration, 'a duration such as 1s'),
    quotas: {
      max_queues: read(env, 'DISCUE_MAX_QUEUES', 1000, integer(0, 1e9), 'a whole number'),
      max_listeners: read(env, 'DISCUE_MAX_LISTENERS', 1000, integer(0, 1e9), 'a whole number'),
      max_api_keys: read(env, 'DISCUE_MAX_API_KEYS', 100, integer(0, 1e9), 'a whole number'),
      max_schedules: read(env, 'DISCUE_MAX_SCHEDULES', 100, integer(0, 1e9), 'a whole number'),
    },
    shutdownTimeoutMs: read(env, 'DISCUE_SHUTDOWN_TIMEOUT', 10_000, duration, 'a duration such as 10s'),
    logLevel: read(env, 'DISCUE_LOG_LEVEL', 'info', (raw) => (['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(raw) ? raw : undefined), 'one of fatal, error, warn, info, debug, trace, silent'),
  };
}

// ---- the effective configuration, as `discue config` prints it --------------------------------

const MASK = '********';
const shown = (value: string | number | boolean | undefined) => (value === undefined ? '' : String(value));
const secret = (value: string | undefined) => (value === undefined ? '' : MASK);

/** Milliseconds in the largest unit that writes them exactly: `7d`, `90s`, `1500ms`. */
export function formatDuration(ms: number): string {
  for (const [unit, size] of [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1_000]] as const) {
    if (ms > 0 && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

function formatBytes(bytes: number): string {
  if (bytes > 0 && bytes % 1_048_576 === 0) return `${bytes / 1_048_576}MiB`;
  if (bytes > 0 && bytes % 1024 === 0) return `${bytes / 1024}KiB`;
  return String(bytes);
}

/** A database URL without its password (in the user-info or a `password` parameter). */
export function maskDatabaseUrl(raw: string | undefined): string {
  if (raw === undefined) return '';
  try {
    const url = new URL(raw);
    if (url.password) url.password = MASK;
    if (url.searchParams.has('password')) url.searchParams.set('password', MASK);
    return url.toString();
  } catch {
    return MASK;
  }
}

type Shown = [variable: string, value: string][];

// Every setting by the variable that sets it; typed so a new setting cannot be left out.
const SHOW: { [K in keyof Config]: (value: Config[K]) => Shown } = {
  port: (v) => [['PORT', shown(v)]],
  host: (v) => [['HOST', v]],
  dataDir: (v) => [['DISCUE_DATA_DIR', v]],
  databaseUrl: (v) => [['DISCUE_DATABASE_URL', maskDatabaseUrl(v)]],
  databasePoolSize: (v) => [['DISCUE_DATABASE_POOL_SIZE', shown(v)]],
  databaseStatementTimeoutMs: (v) => [['DISCUE_DATABASE_STATEMENT_TIMEOUT', formatDuration(v)]],
  publicUrl: (v) => [['DISCUE_PUBLIC_URL', shown(v)]],
  rootApiKey: (v) => [['DISCUE_ROOT_API_KEY', secret(v)]],
  metricsToken: (v) => [['DISCUE_METRICS_TOKEN', secret(v)]],
  allowPrivateTargets: (v) => [['DISCUE_ALLOW_PRIVATE_TARGETS', shown(v)]],
  retrySchedule: (v) => [['DISCUE_RETRY_SCHEDULE', v.map(formatDuration).join(',')]],
  deliveryTimeoutMs: (v) => [['DISCUE_DELIVERY_TIMEOUT', formatDuration(v)]],
  livenessIntervalMs: (v) => [['DISCUE_LIVENESS_INTERVAL', formatDuration(v)]],
  rateLimitPerMinute: (v) => [['DISCUE_RATE_LIMIT_PER_MINUTE', shown(v)]],
  lockoutThreshold: (v) => [['DISCUE_LOCKOUT_THRESHOLD', shown(v)]],
  lockoutWindowMs: (v) => [['DISCUE_LOCKOUT_WINDOW', formatDuration(v)]],
  lockoutDurationMs: (v) => [['DISCUE_LOCKOUT_DURATION', formatDuration(v)]],
  maxDataBytes: (v) => [['DISCUE_MAX_DATA_SIZE', formatBytes(v)]],
  messageRetentionMs: (v) => [['DISCUE_MESSAGE_RETENTION', formatDuration(v)]],
  deliveryConcurrency: (v) => [['DISCUE_DELIVERY_CONCURRENCY', shown(v)]],
  listenerConcurrency: (v) => [['DISCUE_LISTENER_CONCURRENCY', shown(v)]],
  pollIntervalMs: (v) => [['DISCUE_POLL_INTERVAL', formatDuration(v)]],
  quotas: (v) => [
    ['DISCUE_MAX_QUEUES', shown(v.max_queues)],
    ['DISCUE_MAX_LISTENERS', shown(v.max_listeners)],
    ['DISCUE_MAX_API_KEYS', shown(v.max_api_keys)],
    ['DISCUE_MAX_SCHEDULES', shown(v.max_schedules)],
  ],
  shutdownTimeoutMs: (v) => [['DISCUE_SHUTDOWN_TIMEOUT', formatDuration(v)]],
  logLevel: (v) => [['DISCUE_LOG_LEVEL', v]],
};

/**
 * The effective configuration as `VARIABLE=value` lines, in the forms the variables take,
 * secrets masked; settings the environment leaves unset are marked `# default`.
 */
export function describeConfig(config: Config, env: Env = process.env): string {
  const entries = (Object.keys(SHOW) as (keyof Config)[]).flatMap((key) => (SHOW[key] as (value: unknown) => Shown)(config[key]));
  const lines = entries.map(([variable, value]) => ({ text: `${variable}=${value}`, set: (env[variable] ?? '').trim() !== '' }));
  const width = Math.max(0, ...lines.filter((l) => !l.set).map((l) => l.text.length));
  return lines.map((l) => (l.set ? l.text : `${l.text.padEnd(width)}  # default`)).join('\n');
}
