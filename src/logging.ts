import { pino, type Logger } from 'pino';

// Logs are pino's JSON lines on stdout, for a log shipper to collect. On a terminal the same
// entries are written as readable lines instead: time, level, message, then the fields.

const LEVELS: Record<number, { label: string; color: number }> = {
  10: { label: 'TRACE', color: 90 },
  20: { label: 'DEBUG', color: 90 },
  30: { label: 'INFO', color: 32 },
  40: { label: 'WARN', color: 33 },
  50: { label: 'ERROR', color: 31 },
  60: { label: 'FATAL', color: 31 },
};

interface Output {
  isTTY?: boolean;
  write(text: string): unknown;
}

/** The process's logger at `level`: JSON lines, or readable lines when `out` is a terminal. */
export function createLogger(level: string, out: Output = process.stdout, env: Record<string, string | undefined> = process.env): Logger {
  if (!out.isTTY) return pino({ level });
  const color = env.NO_COLOR === undefined || env.NO_COLOR === '';
  return pino({ level }, { write: (line: string) => void out.write(prettyLine(line, color)) });
}

const two = (n: number) => String(n).padStart(2, '0');

/** A field's value as `key=value` shows it: bare when it is a plain word, else as JSON. */
function fieldValue(value: unknown): string {
  if (typeof value === 'string' && /^[^\s"=]+$/.test(value)) return value;
  return JSON.stringify(value) ?? String(value);
}

/**
 * One pino JSON line as `HH:MM:SS.mmm LEVEL message key=value …`, an error's stack indented
 * below it. A line that is not pino's JSON passes as it is.
 */
export function prettyLine(line: string, color = false): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  if (entry === null || typeof entry !== 'object') return line;
  const { time, level, msg, pid: _pid, hostname: _hostname, err, ...fields } = entry;
  const at = new Date(typeof time === 'number' ? time : Date.now());
  const clock = `${two(at.getHours())}:${two(at.getMinutes())}:${two(at.getSeconds())}.${String(at.getMilliseconds()).padStart(3, '0')}`;
  const known = LEVELS[level as number] ?? { label: String(level), color: 0 };
  const label = known.label.padEnd(5);
  const parts = [clock, color ? `\x1b[${known.color}m${label}\x1b[0m` : label];
  if (msg !== undefined) parts.push(String(msg));
  for (const [key, value] of Object.entries(fields)) parts.push(`${key}=${fieldValue(value)}`);
  let text = parts.join(' ');
  if (err !== undefined && err !== null) {
    const { stack, message } = err as { stack?: unknown; message?: unknown };
    const detail = typeof stack === 'string' ? stack : typeof message === 'string' ? message : JSON.stringify(err);
    text += `\n${detail.replace(/^/gm, '    ')}`;
  }
  return `${text}\n`;
}
