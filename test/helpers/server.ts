import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { ensureRootKey } from '../../src/root-key.js';
import { startDelivery, type DeliveryService } from '../../src/delivery/service.js';
import { openStore } from '../../src/store/open.js';

export const ROOT_KEY = 'test-root-key-0123456789abcdef';

export interface ApiResponse<T = any> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

export interface CallOptions {
  key?: string | null;
  body?: unknown;
  headers?: Record<string, string>;
}

export interface TestServer {
  url: string;
  dataDir: string;
  call<T = any>(method: string, path: string, options?: CallOptions): Promise<ApiResponse<T>>;
  stop(): Promise<void>;
  close(): Promise<void>;
}

/** Sends one request to a running server; the root key is used unless `key` says otherwise. */
export async function call<T = any>(baseUrl: string, method: string, path: string, options: CallOptions = {}): Promise<ApiResponse<T>> {
  const headers: Record<string, string> = { accept: 'application/json', ...options.headers };
  const key = options.key === undefined ? ROOT_KEY : options.key;
  if (key !== null) headers['x-api-key'] = key;
  let body: string | undefined;
  if (options.body !== undefined) {
    body = typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
    headers['content-type'] ??= 'application/json';
  }
  const response = await fetch(`${baseUrl}${path}`, { method, headers, body });
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = text === '' ? undefined : JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  return { status: response.status, headers: response.headers, body: parsed as T, text };
}

/**
 * The real server on 127.0.0.1 over real HTTP, on a real SQLite file in a fresh directory
 * (or `dataDir`, to reopen one), or on PostgreSQL when `env` has DISCUE_DATABASE_URL. `stop`
 * keeps the data, `close` removes it.
 */
export async function startServer(env: Record<string, string> = {}, dataDir?: string, options: { delivery?: boolean } = {}): Promise<TestServer> {
  const dir = dataDir ?? mkdtempSync(join(tmpdir(), 'discue-test-'));
  const config = loadConfig({
    DISCUE_DATA_DIR: dir,
    DISCUE_ROOT_API_KEY: ROOT_KEY,
    DISCUE_ALLOW_PRIVATE_TARGETS: 'true',
    DISCUE_RATE_LIMIT_PER_MINUTE: '0',
    ...env,
  });
  const store = await openStore(config);
  await ensureRootKey(store, config.rootApiKey, Date.now());
  const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  let delivery: DeliveryService | undefined;
  const { app, services } = buildApp({ config, store, logger, onPublished: () => delivery?.worker.wake(), onScheduled: () => delivery?.scheduler.wake() });
  const address = await app.listen({ port: 0, host: '127.0.0.1' });
  if (options.delivery) delivery = await startDelivery(store, config, logger);
  const stop = async () => {
    await app.close();
    await delivery?.stop();
    await services.keys.flushLastUsed();
    await store.close();
  };
  return {
    url: address,
    dataDir: dir,
    call: (method, path, options) => call(address, method, path, options),
    stop,
    close: async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface Tenant {
  clientId: string;
  key: string;
  queueId: string;
  listenerId: string;
  messageId: string;
  keyId: string;
  schemaId: string;
}

/** A new api client with one of each resource, created through the API. */
export async function seedTenant(server: TestServer, name: string): Promise<Tenant> {
  const client = await server.call('POST', '/api_clients', { body: { name } });
  const key = client.body.api_key as string;
  const as = (method: string, path: string, body?: unknown) => server.call(method, path, { key, body });
  const queue = await as('POST', '/queues', { name: `${name}-queue`, schema: { user: { type: 'string' } } });
  const listener = await as('POST', `/queues/${queue.body.queue.id}/listeners`, {
    name: `${name}-listener`,
    notify_url: 'http://127.0.0.1:9/notify',
    liveness_url: 'http://127.0.0.1:9/alive',
  });
  const message = await as('POST', `/queues/${queue.body.queue.id}/messages`, { name: 'm', data: '{"user":"ann"}' });
  const apiKey = await as('POST', '/api_keys', { name: `${name}-key` });
  for (const r of [client, queue, listener, message, apiKey]) {
    if (r.status !== 200) throw new Error(`seeding ${name} failed: ${r.status} ${r.text}`);
  }
  return {
    clientId: client.body.api_client.id,
    key,
    queueId: queue.body.queue.id,
    listenerId: listener.body.listener.id,
    messageId: message.body.message.id,
    keyId: apiKey.body.id,
    schemaId: queue.body.queue.schema_id,
  };
}
