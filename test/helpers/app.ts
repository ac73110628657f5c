import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { buildApp } from '../../src/app.js';
import { loadConfig, type Config } from '../../src/config.js';
import { startDelivery, type DeliveryService } from '../../src/delivery/service.js';
import type { Services } from '../../src/http/services.js';
import type { Metrics } from '../../src/metrics.js';
import { ensureRootKey } from '../../src/root-key.js';
import { openSqliteStore } from '../../src/store/sqlite/store.js';
import type { Store } from '../../src/store/types.js';
import { call, ROOT_KEY, type CallOptions, type ApiResponse } from './server.js';

export interface TestApp {
  url: string;
  config: Config;
  app: FastifyInstance;
  services: Services;
  metrics: Metrics;
  store: Store;
  call<T = any>(method: string, path: string, options?: CallOptions): Promise<ApiResponse<T>>;
  close(): Promise<void>;
}

/**
 * Like `startServer`, with the app's insides at hand (services, metrics, store) and, with
 * `delivery`, the worker's outcomes counted in the metrics as `discue serve` counts them.
 * `wrapStore` may put a failing store in front of the real one.
 */
export async function startApp(env: Record<string, string> = {}, options: { delivery?: boolean; wrapStore?: (store: Store) => Store } = {}): Promise<TestApp> {
  const dir = mkdtempSync(join(tmpdir(), 'discue-app-'));
  const config = loadConfig({ DISCUE_DATA_DIR: dir, DISCUE_ROOT_API_KEY: ROOT_KEY, DISCUE_ALLOW_PRIVATE_TARGETS: 'true', DISCUE_RATE_LIMIT_PER_MINUTE: '0', ...env });
  const real = openSqliteStore(config.dataDir);
  await ensureRootKey(real, config.rootApiKey, Date.now());
  const store = options.wrapStore?.(real) ?? real;
  const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  let delivery: DeliveryService | undefined;
  const { app, services, metrics } = buildApp({ config, store, logger, onPublished: () => delivery?.worker.wake() });
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  if (options.delivery) {
    delivery = await startDelivery(store, config, logger);
    delivery.worker.onOutcome = metrics.observeDelivery;
  }
  return {
    url,
    config,
    app,
    services,
    metrics,
    store,
    call: (method, path, callOptions) => call(url, method, path, callOptions),
    close: async () => {
      await app.close();
      await delivery?.stop();
      await real.close().catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The value of one sample in Prometheus text, e.g. `discue_deliveries_total{outcome="acknowledged"}`. */
export function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}
