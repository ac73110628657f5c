import type { Logger } from 'pino';
import { formatDuration } from '../config.js';

/**
 * On SIGTERM or SIGINT, runs `stop` (which stops taking work and finishes what is in flight)
 * and exits 0. When it takes longer than `timeoutMs`, logs what was still unfinished and exits
 * 1: deliveries in flight are then sent again once their leases expire. A second signal ends
 * the process at once.
 */
export function stopOnSignal(logger: Logger, timeoutMs: number, stop: () => Promise<void>, unfinished: () => Record<string, number>): void {
  const timeout = formatDuration(timeoutMs);
  const handle = (signal: NodeJS.Signals) => {
    // From here on, the signals' default: a second one ends the process at once.
    process.off('SIGINT', handle);
    process.off('SIGTERM', handle);
    logger.info({ signal, timeout }, 'shutting down: finishing the work in flight');
    const timer = setTimeout(() => {
      logger.error(
        { timeout, ...unfinished() },
        'shutdown timed out; exiting with work unfinished (requests cut off get no answer; deliveries are sent again when their leases expire)',
      );
      process.exit(1);
    }, timeoutMs);
    stop().then(
      () => {
        clearTimeout(timer);
        logger.info('shut down');
        process.exit(0);
      },
      (err: unknown) => {
        clearTimeout(timer);
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', handle);
  process.on('SIGTERM', handle);
}
