import { pino, type Logger } from 'pino';
import { buildApp } from './app.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import { startDelivery, type DeliveryService } from './delivery/service.js';
import { ensureRootKey } from './root-key.js';
import { openStore } from './store/open.js';

const USAGE = `Usage: discue <command> [options]

Commands:
  serve               serve the API (PORT, default 3000) and deliver messages
  serve --no-worker   serve the API only; a separate \`discue worker\` delivers
  worker              deliver messages and probe listeners, without the API
  help                show this text

Configuration is read from environment variables; see the README.`;

// Background chores of the API process and how often they run.
const KEY_USE_FLUSH_MS = 10_000;
const EVENT_PURGE_MS = 60_000;
const EVENT_RETENTION_MS = 25 * 3_600_000;

/** Runs `stop` once on SIGINT or SIGTERM, then exits. */
function onShutdown(logger: Logger, stop: () => Promise<void>): void {
  const handle = (signal: string) => {
    logger.info({ signal }, 'shutting down');
    stop()
      .then(() => process.exit(0))
      .catch((err) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      });
  };
  process.once('SIGINT', handle);
  process.once('SIGTERM', handle);
}

async function serve(config: Config, withWorker: boolean): Promise<void> {
  const logger = pino({ level: config.logLevel });
  const store = await openStore(config);
  const generated = await ensureRootKey(store, config.rootApiKey, Date.now());
  let delivery: DeliveryService | undefined;
  const { app, services } = buildApp({
    config,
    store,
    logger,
    onPublished: () => delivery?.worker.wake(),
    onScheduled: () => delivery?.scheduler.wake(),
  });
  const address = await app.listen({ port: config.port, host: config.host });
  if (withWorker) delivery = await startDelivery(store, config, logger);
  // One write, so whoever reads the banner sees the key together with the URL.
  const rootKeyNote = generated
    ? `\nThe root api key (shown this once; only its hash is kept, set DISCUE_ROOT_API_KEY to choose your own):\n\n  ${generated}\n\n`
    : '';
  process.stdout.write(`discue is serving the API at ${config.publicUrl ?? address.replace('0.0.0.0', 'localhost')}\n${rootKeyNote}`);

  const chores = [
    setInterval(() => void services.keys.flushLastUsed().catch((err) => logger.error({ err }, 'recording key use failed')), KEY_USE_FLUSH_MS),
    setInterval(() => void store.purgeEventsBefore(Date.now() - EVENT_RETENTION_MS, 10_000).catch((err) => logger.error({ err }, 'purging events failed')), EVENT_PURGE_MS),
  ];
  onShutdown(logger, async () => {
    chores.forEach(clearInterval);
    await app.close();
    await delivery?.stop();
    await services.keys.flushLastUsed();
    await store.close();
  });
}

async function work(config: Config): Promise<void> {
  const logger = pino({ level: config.logLevel });
  const store = await openStore(config);
  const delivery = await startDelivery(store, config, logger);
  process.stdout.write('discue worker is delivering messages\n');
  onShutdown(logger, async () => {
    await delivery.stop();
    await store.close();
  });
}

async function main(argv: string[]): Promise<void> {
  const [command = 'help', ...options] = argv;
  if (command === 'help' || command === '--help' || command === '-h') {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  if (command === 'serve' && options.every((o) => o === '--no-worker')) return serve(loadConfig(), !options.includes('--no-worker'));
  if (command === 'worker' && options.length === 0) return work(loadConfig());
  process.stderr.write(`discue: unknown command "${argv.join(' ')}"\n\n${USAGE}\n`);
  process.exit(2);
}

main(process.argv.slice(2)).catch((err: unknown) => {
  if (err instanceof ConfigError) {
    process.stderr.write(`discue: ${err.message}\n`);
  } else {
    process.stderr.write(`discue: ${(err as Error).stack ?? String(err)}\n`);
  }
  process.exit(1);
});
