import { loadConfig } from '../config.js';
import { startDelivery } from '../delivery/service.js';
import { createLogger } from '../logging.js';
import { openStore } from '../store/open.js';
import { HELP_FLAG, type Command } from './command.js';
import { stopOnSignal } from './shutdown.js';

async function work(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.logLevel);
  const store = await openStore(config);
  const delivery = await startDelivery(store, config, logger);
  stopOnSignal(
    logger,
    config.shutdownTimeoutMs,
    async () => {
      await delivery.stop();
      await store.close();
    },
    () => ({ deliveries: delivery.worker.inFlightCount }),
  );
  process.stdout.write('discue worker is delivering messages\n');
}

export const workerCommand: Command = {
  name: 'worker',
  synopsis: 'worker',
  summary: 'deliver messages and probe listeners, without the API',
  usage: `Usage: discue worker

Delivers messages, probes listeners and fires schedules without serving the API, beside
\`discue serve --no-worker\` on the same store (DISCUE_DATA_DIR or DISCUE_DATABASE_URL).
On SIGTERM or SIGINT it finishes the deliveries in flight and exits 0, or exits 1 after
DISCUE_SHUTDOWN_TIMEOUT (default 10s).

Options:
${HELP_FLAG}`,
  run: () => work(),
};
