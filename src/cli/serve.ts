import { buildApp } from '../app.js';
import { loadConfig } from '../config.js';
import { startDelivery, type DeliveryService } from '../delivery/service.js';
import { createLogger } from '../logging.js';
import { ensureRootKey } from '../root-key.js';
import { openStore } from '../store/open.js';
import { HELP_FLAG, type Command } from './command.js';
import { stopOnSignal } from './shutdown.js';

// Background chores of the API process and how often they run.
const KEY_USE_FLUSH_MS = 10_000;
const EVENT_PURGE_MS = 60_000;
const EVENT_RETENTION_MS = 25 * 3_600_000;

async function serve(withWorker: boolean): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.logLevel);
  const store = await openStore(config);
  const generated = await ensureRootKey(store, config.rootApiKey, Date.now());
  let delivery: DeliveryService | undefined;
  const { app, services, metrics } = buildApp({
    config,
    store,
    logger,
    onPublished: () => delivery?.worker.wake(),
    onScheduled: () => delivery?.scheduler.wake(),
  });
  let requestsInFlight = 0;
  app.server.on('request', (_request, response) => {
    requestsInFlight += 1;
    response.once('close', () => (requestsInFlight -= 1));
  });
  const address = await app.listen({ port: config.port, host: config.host });
  if (withWorker) {
    delivery = await startDelivery(store, config, logger);
    delivery.worker.onOutcome = metrics.observeDelivery;
  }
  const chores = [
    setInterval(() => void services.keys.flushLastUsed().catch((err) => logger.error({ err }, 'recording key use failed')), KEY_USE_FLUSH_MS),
    setInterval(() => void store.purgeEventsBefore(Date.now() - EVENT_RETENTION_MS, 10_000).catch((err) => logger.error({ err }, 'purging events failed')), EVENT_PURGE_MS),
  ];
  // Closing the app stops accepting connections, answers 503 to requests arriving on open
  // ones, and waits for those in flight; the worker meanwhile finishes its sends in flight and
  // records their outcomes.
  stopOnSignal(
    logger,
    config.shutdownTimeoutMs,
    async () => {
      chores.forEach(clearInterval);
      await Promise.all([app.close(), delivery?.stop()]);
      await services.keys.flushLastUsed();
      await store.close();
    },
    () => ({ requests: requestsInFlight, deliveries: delivery?.worker.inFlightCount ?? 0 }),
  );

  // One write, so whoever reads the banner sees the key together with the URL.
  const rootKeyNote = generated
    ? `\nThe root api key (shown this once; only its hash is kept, set DISCUE_ROOT_API_KEY to choose your own):\n\n  ${generated}\n\n`
    : '';
  process.stdout.write(`discue is serving the API at ${config.publicUrl ?? address.replace('0.0.0.0', 'localhost')}\n${rootKeyNote}`);
}

export const serveCommand: Command = {
  name: 'serve',
  synopsis: 'serve',
  summary: 'serve the API (PORT, default 3000) and deliver messages',
  usage: `Usage: discue serve [--no-worker]

Serves the API on HOST:PORT (default 0.0.0.0:3000) and, in the same process, delivers
messages, probes listeners and fires schedules. On SIGTERM or SIGINT it stops accepting
connections, finishes the requests and deliveries in flight and exits 0, or exits 1 after
DISCUE_SHUTDOWN_TIMEOUT (default 10s) naming what was unfinished.

Options:
  --no-worker   serve the API only; run \`discue worker\` on the same store to deliver
${HELP_FLAG}`,
  options: { '--no-worker': {} },
  run: (input) => serve(!input.flags.has('--no-worker')),
};
