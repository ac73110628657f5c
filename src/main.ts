import { pino } from 'pino';
import { buildApp } from './app.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import { ensureRootKey } from './root-key.js';
import { openSqliteStore } from './store/sqlite/store.js';
import type { Store } from './store/types.js';

const USAGE = `Usage: discue <command>

Commands:
  serve     serve the API (PORT, default 3000) on the store in DISCUE_DATA_DIR
  help      show this text

Configuration is read from environment variables; see the README.`;

// Background chores of the API process and how often they run.
const KEY_USE_FLUSH_MS = 10_000;
const EVENT_PURGE_MS = 60_000;
const EVENT_RETENTION_MS = 25 * 3_600_000;

function openStore(config: Config): Store {
  if (config.databaseUrl) throw new ConfigError('DISCUE_DATABASE_URL is not supported yet: unset it to use the embedded store');
  return openSqliteStore(config.dataDir);
}

async function serve(config: Config): Promise<void> {
  const logger = pino({ level: config.logLevel });
  const store = openStore(config);
  const generated = await ensureRootKey(store, config.rootApiKey, Date.now());
  const { app, services } = buildApp({ config, store, logger });
  const address = await app.listen({ port: config.port, host: config.host });
  // One write, so whoever reads the banner sees the key together with the URL.
  const rootKeyNote = generated
    ? `\nThe root api key (shown this once; only its hash is kept, set DISCUE_ROOT_API_KEY to choose your own):\n\n  ${generated}\n\n`
    : '';
  process.stdout.write(`discue is serving the API at ${config.publicUrl ?? address.replace('0.0.0.0', 'localhost')}\n${rootKeyNote}`);

  const chores = [
    setInterval(() => void services.keys.flushLastUsed().catch((err) => logger.error({ err }, 'recording key use failed')), KEY_USE_FLUSH_MS),
    setInterval(() => void store.purgeEventsBefore(Date.now() - EVENT_RETENTION_MS, 10_000).catch((err) => logger.error({ err }, 'purging events failed')), EVENT_PURGE_MS),
  ];
  const stop = async (signal: string) => {
    logger.info({ signal }, 'shutting down');
    chores.forEach(clearInterval);
    await app.close();
    await services.keys.flushLastUsed();
    await store.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGTERM', () => void stop('SIGTERM'));
}

async function main(argv: string[]): Promise<void> {
  const [command = 'help'] = argv;
  if (command === 'help' || command === '--help' || command === '-h') {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  if (command !== 'serve') {
    process.stderr.write(`discue: unknown command "${command}"\n\n${USAGE}\n`);
    process.exit(2);
  }
  await serve(loadConfig());
}

main(process.argv.slice(2)).catch((err: unknown) => {
  if (err instanceof ConfigError) {
    process.stderr.write(`discue: ${err.message}\n`);
  } else {
    process.stderr.write(`discue: ${(err as Error).stack ?? String(err)}\n`);
  }
  process.exit(1);
});
