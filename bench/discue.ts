/**
 * discue as the system under test: `node --import tsx src/main.ts serve` as a child process on
 * a port of our choosing, set up through its own API (an api client and its key, queues,
 * listeners).
 *
 * The store is pluggable: a `DiscueStore` gives the environment a fresh, empty store needs.
 * `sqliteStore` is the embedded store (a temporary DISCUE_DATA_DIR); `postgresStore` sets
 * DISCUE_DATABASE_URL to a new database on a throwaway PostgreSQL, for when discue has that
 * store (`npm run bench -- --store=postgres`).
 *
 * discue's settings come from the bench only (inherited DISCUE_* variables are dropped), but for
 * experiments:
 * - BENCH_DISCUE_ENV="DISCUE_POLL_INTERVAL=200ms,DISCUE_LISTENER_CONCURRENCY=32" is added to
 *   every discue's environment, over the scenario's own settings;
 * - BENCH_DISCUE_NODE_ARGS adds node flags (e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`).
 */

function overrides(): Record<string, string> {
  const raw = process.env.BENCH_DISCUE_ENV ?? '';
  return Object.fromEntries(
    raw
      .split(',')
      .map((pair) => pair.trim())
      .filter(Boolean)
      .map((pair) => {
        const at = pair.indexOf('=');
        if (at <= 0) throw new Error(`BENCH_DISCUE_ENV: "${pair}" is not NAME=value`);
        return [pair.slice(0, at), pair.slice(at + 1)];
      }),
  );
}
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { request } from 'undici';
import type { HttpTarget } from './load.js';
import { freePort, HOST, makeTempDir, removeTempDir, ROOT, spawnChild, type Child } from './processes.js';

export interface DiscueStore {
  name: string;
  /** The environment of a discue with a fresh, empty store, and how to remove that store. */
  prepare(): Promise<{ env: Record<string, string>; dispose(): Promise<void> }>;
}

export const sqliteStore: DiscueStore = {
  name: 'sqlite',
  prepare: async () => {
    const dir = makeTempDir('discue-bench-data-');
    return { env: { DISCUE_DATA_DIR: dir }, dispose: async () => removeTempDir(dir) };
  },
};

/** The PostgreSQL store: one new database per discue started, on the server `database` creates them on. */
export function postgresStore(database: (name: string) => Promise<string>): DiscueStore {
  let n = 0;
  return {
    name: 'postgres',
    prepare: async () => {
      const url = await database(`discue_${process.pid}_${++n}`);
      const dir = makeTempDir('discue-bench-data-');
      return { env: { DISCUE_DATABASE_URL: url, DISCUE_DATA_DIR: dir }, dispose: async () => removeTempDir(dir) };
    },
  };
}

/** The environment every bench discue gets (a scenario adds to it). */
export const BASE_ENV: Record<string, string> = {
  HOST,
  DISCUE_ALLOW_PRIVATE_TARGETS: 'true',
  DISCUE_RATE_LIMIT_PER_MINUTE: '0',
  DISCUE_LOG_LEVEL: 'warn',
  DISCUE_LIVENESS_INTERVAL: '1h',
};

export interface ListenerView {
  id: string;
  liveness: { state: string; success_count: number; failure_count: number };
  messages: { acknowledged_count: number; missed_count: number };
}

export class Discue {
  private constructor(
    readonly child: Child,
    readonly url: string,
    readonly rootKey: string,
    /** the api key of the bench's api client */
    readonly key: string,
    private readonly dispose: () => Promise<void>,
    /** What the process was started with, so a second process can join the same store. */
    private readonly env: Record<string, string> = {},
  ) {}

  /** Starts discue on `store` with `extraEnv` over BASE_ENV, and makes an api client for the bench. */
  static async start(store: DiscueStore, extraEnv: Record<string, string> = {}): Promise<Discue> {
    const prepared = await store.prepare();
    const rootKey = `bench-root-${randomBytes(16).toString('hex')}`;
    const port = await freePort();
    const env = { ...BASE_ENV, ...prepared.env, DISCUE_ROOT_API_KEY: rootKey, ...extraEnv, ...overrides() };
    let child: Child;
    try {
      child = await spawnDiscue(env, port, ['serve']);
    } catch (err) {
      await prepared.dispose();
      throw err;
    }
    const url = `http://${HOST}:${port}`;
    const created = await api<{ api_key: string }>(url, rootKey, 'POST', '/v1/api_clients', { name: 'bench' });
    return new Discue(child, url, rootKey, created.api_key, prepared.dispose, env);
  }

  /**
   * A second, API-only process (`serve --no-worker`) on the same store and key, as a second
   * node behind a load balancer would be. Only meaningful on PostgreSQL.
   */
  async startApiPeer(): Promise<Discue> {
    const port = await freePort();
    const child = await spawnDiscue(this.env, port, ['serve', '--no-worker']);
    return new Discue(child, `http://${HOST}:${port}`, this.rootKey, this.key, async () => undefined, this.env);
  }

  call<T>(method: string, path: string, body?: unknown): Promise<T> {
    return api<T>(this.url, this.key, method, path, body);
  }

  async createQueue(name: string): Promise<string> {
    return (await this.call<{ queue: { id: string } }>('POST', '/v1/queues', { name })).queue.id;
  }

  async addListener(queueId: string, name: string, notifyUrl: string, livenessUrl: string): Promise<string> {
    const body = { name, notify_url: notifyUrl, liveness_url: livenessUrl };
    return (await this.call<{ listener: { id: string } }>('POST', `/v1/queues/${queueId}/listeners`, body)).listener.id;
  }

  async listener(queueId: string, id: string): Promise<ListenerView> {
    return (await this.call<{ listener: ListenerView }>('GET', `/v1/queues/${queueId}/listeners/${id}`)).listener;
  }

  /** Where to publish to `queueId`. */
  target(queueId: string): HttpTarget {
    return { origin: this.url, path: `/v1/queues/${queueId}/messages`, headers: { 'x-api-key': this.key } };
  }

  peakRssKb(): number | undefined {
    return this.child.peakRssKb();
  }

  /** Whether the process is still running (it may have crashed). */
  get running(): boolean {
    return this.child.process.exitCode === null && this.child.process.signalCode === null;
  }

  /** Stops discue; throws, with the end of what it printed, when it had exited by itself. */
  async stop(): Promise<void> {
    const crashed = !this.running;
    await this.child.stop(15_000);
    await this.dispose();
    if (crashed) {
      const { exitCode, signalCode } = this.child.process;
      throw new Error(`discue exited by itself (${exitCode ?? signalCode}): ${this.child.output().slice(-1_500)}`);
    }
  }
}

function spawnDiscue(env: Record<string, string>, port: number, args: string[]): Promise<Child> {
  const nodeArgs = (process.env.BENCH_DISCUE_NODE_ARGS ?? '').split(' ').filter(Boolean);
  return spawnChild('discue', process.execPath, [...nodeArgs, '--import', 'tsx', join(ROOT, 'src/main.ts'), ...args], {
    env: { ...env, PORT: String(port) },
    // Only the bench decides discue's settings (see BENCH_DISCUE_ENV).
    drop: (name) => name.startsWith('DISCUE_') || name === 'PORT' || name === 'HOST',
    ready: /serving the API at (http:\/\/\S+)/,
    timeoutMs: 60_000,
  });
}

async function api<T>(base: string, key: string, method: string, path: string, body?: unknown): Promise<T> {
  const res = await request(`${base}${path}`, {
    method: method as 'GET',
    headers: { 'x-api-key': key, accept: 'application/json', ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.body.text();
  if (res.statusCode !== 200) throw new Error(`discue ${method} ${path} answered ${res.statusCode}: ${text}`);
  return JSON.parse(text) as T;
}
