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
