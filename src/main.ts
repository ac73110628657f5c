import { pino, type Logger } from 'pino';
import { buildApp } from './app.js';
import { ConfigError, describeConfig, loadConfig, type Config } from './config.js';
import { startDelivery, type DeliveryService } from './delivery/service.js';
import { ensureRootKey } from './root-key.js';
import { openStore } from './store/open.js';

const USAGE = `Usage: discue <command> [options]

Commands:
  serve     serve the API (PORT, default 3000) and deliver messages
  worker    deliver messages and probe listeners, without the API
  config    print the effective configuration, secrets masked
  help      show this text

Run \`discue <command> --help\` for a command's options. Configuration is read from
environment variables; see the README.`;

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
  const { app, services, metrics } = buildApp({
    config,
    store,
    logger,
    onPublished: () => delivery?.worker.wake(),
    onScheduled: () => delivery?.scheduler.wake(),
  });
  const address = await app.listen({ port: config.port, host: config.host });
  if (withWorker) {
    delivery = await startDelivery(store, config, logger);
    delivery.worker.onOutcome = metrics.observeDelivery;
  }
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

interface Command {
  usage: string;
  /** The options it takes, besides `--help`. */
  flags: readonly string[];
  run: (flags: ReadonlySet<string>) => Promise<void>;
}

const HELP_FLAG = '  -h, --help    show this text';

const COMMANDS: Record<string, Command> = {
  serve: {
    usage: `Usage: discue serve [--no-worker]

Serves the API on HOST:PORT (default 0.0.0.0:3000) and, in the same process, delivers
messages, probes listeners and fires schedules.

Options:
  --no-worker   serve the API only; run \`discue worker\` on the same store to deliver
${HELP_FLAG}`,
    flags: ['--no-worker'],
    run: (flags) => serve(loadConfig(), !flags.has('--no-worker')),
  },
  worker: {
    usage: `Usage: discue worker

Delivers messages, probes listeners and fires schedules without serving the API, beside
\`discue serve --no-worker\` on the same store (DISCUE_DATA_DIR or DISCUE_DATABASE_URL).

Options:
${HELP_FLAG}`,
    flags: [],
    run: () => work(loadConfig()),
  },
  config: {
    usage: `Usage: discue config

Prints the configuration \`discue serve\` would use, read from the environment, as
VARIABLE=value lines: secrets masked, defaults marked. A bad value exits 1 naming it.

Options:
${HELP_FLAG}`,
    flags: [],
    run: async () => void process.stdout.write(`${describeConfig(loadConfig())}\n`),
  },
};

/** Says what is wrong with the command line, shows the usage, and exits 2. */
function usageError(problem: string, usage: string): never {
  process.stderr.write(`discue: ${problem}\n\n${usage}\n`);
  process.exit(2);
}

async function main(argv: string[]): Promise<void> {
  const [name = 'help', ...args] = argv;
  if (name === 'help' || name === '--help' || name === '-h') {
    const topic = args[0] !== undefined && Object.hasOwn(COMMANDS, args[0]) ? COMMANDS[args[0]] : undefined;
    process.stdout.write(`${topic?.usage ?? USAGE}\n`);
    return;
  }
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!command) return usageError(`unknown command "${argv.join(' ')}"`, USAGE);
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(`${command.usage}\n`);
    return;
  }
  const unknown = args.find((arg) => !command.flags.includes(arg));
  if (unknown !== undefined) {
    const what = unknown.startsWith('-') ? 'unknown option' : 'unexpected argument';
    return usageError(`${what} "${unknown}" for discue ${name}`, command.usage);
  }
  return command.run(new Set(args));
}

main(process.argv.slice(2)).catch((err: unknown) => {
  if (err instanceof ConfigError) {
    process.stderr.write(`discue: ${err.message}\n`);
  } else {
    process.stderr.write(`discue: ${(err as Error).stack ?? String(err)}\n`);
  }
  process.exit(1);
});
