import { Cron } from 'croner';

export interface CronSchedule {
  /** The first tick strictly after `after` (epoch ms), or undefined when there is none. */
  next(after: number): number | undefined;
}

/** Whether `zone` is an IANA time zone this runtime knows. */
export function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/**
 * Parses a cron expression (five fields, an optional sixth for seconds, or a macro such as
 * `@hourly`) for a time zone, with croner, which steps over DST changes the way cron users
 * expect: a time skipped in spring fires at the next valid instant, a time repeated in autumn
 * fires once.
 */
export function parseCron(expression: string, timezone: string): { ok: true; schedule: CronSchedule } | { ok: false; reason: string } {
  if (!isTimeZone(timezone)) return { ok: false, reason: `timezone "${timezone}" is not an IANA time zone` };
  const fields = expression.trim().split(/\s+/);
  if (!expression.trim().startsWith('@') && (fields.length < 5 || fields.length > 6)) {
    return { ok: false, reason: `cron "${expression}" must have 5 fields (minute hour day month weekday) or 6 with seconds first` };
  }
  try {
    const cron = new Cron(expression, { timezone, paused: true });
    if (cron.nextRun(new Date()) === null) return { ok: false, reason: `cron "${expression}" never fires` };
    return { ok: true, schedule: { next: (after) => cron.nextRun(new Date(after))?.getTime() } };
  } catch (err) {
    return { ok: false, reason: `cron "${expression}" is invalid: ${(err as Error).message}` };
  }
}
