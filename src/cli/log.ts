// --log-level: the lines podman's logrus prints on stderr (`time="…" level=debug msg="…"`),
// for what hutch's CLI does on the way to a verb. Warnings (output.ts warn) stop above warn.

/** podman's levels, most verbose first; `warning` is warn's other name. */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'warning', 'error', 'fatal', 'panic'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

const RANK: Record<LogLevel, number> = {
  trace: 0,
  debug: 1,
  info: 2,
  warn: 3,
  warning: 3,
  error: 4,
  fatal: 5,
  panic: 6,
};

let threshold: number = RANK.warn;

export function isLogLevel(value: string): value is LogLevel {
  return (LOG_LEVELS as readonly string[]).includes(value);
}

export function setLogLevel(level: LogLevel): void {
  threshold = RANK[level];
}

/** Whether lines of this level are printed. */
export function logEnabled(level: LogLevel): boolean {
  return RANK[level] >= threshold;
}

/** RFC 3339 in local time to the second, as logrus's text formatter stamps its lines. */
export function logTime(date: Date): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  const offset = -date.getTimezoneOffset();
  const zone =
    offset === 0
      ? 'Z'
      : `${offset > 0 ? '+' : '-'}${pad(Math.floor(Math.abs(offset) / 60))}:${pad(Math.abs(offset) % 60)}`;
  return (
    `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}` +
    `T${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}${zone}`
  );
}

/** One logrus text line: `time="…" level=debug msg="…"` (the message quoted as Go's %q would). */
export function logLine(level: Exclude<LogLevel, 'warn'>, message: string, date = new Date()): string {
  return `time="${logTime(date)}" level=${level} msg=${JSON.stringify(message)}\n`;
}

function write(level: 'trace' | 'debug' | 'info', message: string): void {
  if (logEnabled(level)) process.stderr.write(logLine(level, message));
}

export const log = {
  trace: (message: string): void => write('trace', message),
  debug: (message: string): void => write('debug', message),
  info: (message: string): void => write('info', message),
};
