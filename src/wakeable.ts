/**
 * A sleep that `wake()` cuts short. A wake that comes while nobody sleeps is kept, so the next
 * sleep returns at once: a signal between "nothing to do" and "sleep" is never lost.
 */
export class WakeableSleep {
  private woken = false;
  private wakeUp: (() => void) | undefined;

  wake(): void {
    this.woken = true;
    this.wakeUp?.();
  }

  async sleep(ms: number): Promise<void> {
    if (this.woken || ms <= 0) {
      this.woken = false;
      // Still yield to I/O: a caller looping on work that answers synchronously must not starve it.
      await new Promise<void>((resolve) => setImmediate(resolve));
      return;
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wakeUp = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    this.wakeUp = undefined;
    this.woken = false;
  }
}

/** How long to sleep until `due` (if any), at most `max`. */
export function untilDue(due: number | undefined, now: number, max: number): number {
  return due === undefined ? max : Math.min(max, Math.max(0, due - now));
}

/**
 * A background loop: `turn` runs again and again until `stop`; a turn sleeps on `sleeper`,
 * which `wake` cuts short. A turn that throws is logged and the loop waits `retryMs`.
 */
export abstract class WakeableLoop {
  private running = false;
  private loopDone: Promise<void> = Promise.resolve();
  protected readonly sleeper = new WakeableSleep();

  protected abstract turn(): Promise<void>;
  protected abstract onError(err: unknown): void;

  constructor(private readonly retryMs: number) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loopDone = this.loop();
  }

  /** New or newly due work: look now instead of at the next poll. */
  wake(): void {
    this.sleeper.wake();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wake();
    await this.loopDone;
  }

  private async loop(): Promise<void> {
    while (this.running) {
      try {
        await this.turn();
      } catch (err) {
        this.onError(err);
        await this.sleeper.sleep(this.retryMs);
      }
    }
  }
}
