/**
 * A container's log, as `--log-driver` and `--log-opt` set it at create and
 * config.json keeps it for every start: which driver, where the k8s-file log
 * goes, and how hutch-monitor bounds it (native/monitor_io.h LogWriter).
 *
 * What podman 4.3 does here (checked on the development host, 2026-12-07):
 * - `--log-opt max-size` goes to conmon as `--log-size-max BYTES`, parsed by
 *   go-units' FromHumanSize: SI units (1k = 1000, 1m = 1000000, 1MiB also
 *   1000000: the i is ignored), case-insensitive, an optional space,
 *   fractions (1.5m), k m g t p with an optional i and b; `invalid size: 'X'`
 *   otherwise. Inspect shows it as `Size: "1MB"` (HumanSizeWithPrecision 3).
 * - conmon does not rotate: when the next write would pass the size it
 *   replaces ctr.log with an empty file (ctr.log.tmp renamed over it), so one
 *   file of at most max-size exists. `max-file` is accepted and ignored.
 * hutch keeps that as the default (max-size alone keeps one file) and adds
 * `max-file=N` with docker's json-file naming: ctr.log.1 is the newest
 * rotated file, ctr.log.N-1 the oldest, N files in all.
 * - Drivers: k8s-file (default), json-file (podman's alias: the same k8s
 *   format, shown as json-file), none, passthrough; journald needs systemd's
 *   journal, which hutch does not write to.
 * - passthrough gives the container the caller's stdin, stdout and stderr;
 *   podman allows it with -d (and prints no id then), refuses it when one of
 *   them is a terminal, and has no logs for it.
 *
 * hutch has no configuration file of its own (no containers.conf with a
 * log_size_max): without --log-opt max-size the log is not rotated, which is
 * also podman's default (log_size_max = -1).
 */
import { join, resolve } from 'node:path';
import { isatty } from 'node:tty';
import { HutchError } from '../../errors.js';

export type LogDriver = 'k8s-file' | 'json-file' | 'none' | 'passthrough';

/** The --log-driver and --log-opt values as given (src/cli/log-flags.ts). */
export interface LogFlags {
  driver?: string | undefined;
  /** NAME=VALUE, in order; a later one wins. */
  opts: string[];
}

/** What config.json keeps (absent in containers made before log options: the default). */
export interface LogConfig {
  driver: LogDriver;
  /** --log-opt path, absolute; undefined: ctr.log in the container's directory. */
  path?: string;
  /** --log-opt max-size in bytes; 0: never rotated. */
  maxSize: number;
  /** --log-opt max-file as given: the files kept in all, the current one included (1 when unset). */
  maxFile?: number;
  /** --log-opt tag: kept and shown by inspect (podman's journald uses it; the k8s-file log has no field for it). */
  tag?: string;
}

export const DEFAULT_LOG: LogConfig = { driver: 'k8s-file', maxSize: 0 };

/** hutch-monitor's --log-max-files bound (native/monitor_io.h kLogMaxFiles). */
export const MAX_LOG_FILES = 1000;

const DRIVERS: Record<string, LogDriver> = {
  'k8s-file': 'k8s-file',
  'json-file': 'json-file',
  none: 'none',
  passthrough: 'passthrough',
};

const SI: Record<string, number> = { k: 1e3, m: 1e6, g: 1e9, t: 1e12, p: 1e15 };

/**
 * A size as podman's --log-opt max-size takes it (go-units FromHumanSize, the
 * regexp of v0.4: `^(\d+(\.\d+)*) ?([kKmMgGtTpP])?[iI]?[bB]?$`): bytes, SI
 * multiples, the fraction truncated to whole bytes.
 */
export function parseLogSize(text: string): number {
  const match = /^(\d+(?:\.\d+)*) ?([kmgtp])?i?b?$/i.exec(text);
  // 1.5.5 passes the regexp and fails Go's ParseFloat.
  const number = match === null || /\..*\./.test(match[1] as string) ? NaN : Number(match[1]);
  const bytes = Math.trunc(number * (SI[(match?.[2] ?? '').toLowerCase()] ?? 1));
  if (!Number.isSafeInteger(bytes)) {
    throw new HutchError(`invalid size: '${text}'`, {
      hint: 'give bytes or a number with k, m, g, t (1000-based, as podman reads them): max-size=10m',
    });
  }
  return bytes;
}

/** Bytes as podman's inspect shows Size: go-units HumanSizeWithPrecision(size, 3), i.e. Go's %.3g and SI units. */
export function formatLogSize(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB', 'ZB', 'YB'];
  let size = bytes;
  let unit = 0;
  while (size >= 1000 && unit < units.length - 1) {
    size /= 1000;
    unit++;
  }
  return `${formatG(size, 3)}${units[unit]}`;
}

/** Go's %.{precision}g: shortest of fixed and exponent forms, trailing zeros dropped. */
function formatG(value: number, precision: number): string {
  if (value === 0) return '0';
  const [mantissa, exponentText] = value.toExponential(precision - 1).split('e') as [string, string];
  const exponent = Number(exponentText);
  const trim = (s: string) => (s.includes('.') ? s.replace(/0+$/, '').replace(/\.$/, '') : s);
  if (exponent < -4 || exponent >= precision) {
    return `${trim(mantissa)}e${exponent < 0 ? '-' : '+'}${String(Math.abs(exponent)).padStart(2, '0')}`;
  }
  return trim(value.toFixed(Math.max(0, precision - 1 - exponent)));
}

/** --log-driver and --log-opt, checked: every refusal is a HutchError (exit 125) naming the flag. */
export function parseLogConfig(flags: LogFlags, cwd: string): LogConfig {
  const name = flags.driver === undefined || flags.driver === '' ? 'k8s-file' : flags.driver;
  if (name === 'journald') {
    throw new HutchError(
      '--log-driver journald: hutch has no journald support (it writes no systemd journal); use k8s-file, none or passthrough',
    );
  }
  const driver = DRIVERS[name];
  if (driver === undefined) {
    throw new HutchError(`invalid log driver ${JSON.stringify(name)}`, {
      hint: 'use k8s-file (the default), json-file (the same), none or passthrough',
    });
  }
  const config: LogConfig = { driver, maxSize: 0 };
  for (const opt of flags.opts) {
    const eq = opt.indexOf('=');
    if (eq < 0) throw new HutchError(`invalid log option ${JSON.stringify(opt)}`, { hint: 'give NAME=VALUE' });
    const key = opt.slice(0, eq).toLowerCase();
    const value = opt.slice(eq + 1);
    switch (key) {
      case 'max-size':
        config.maxSize = parseLogSize(value);
        break;
      case 'max-file':
        if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > MAX_LOG_FILES) {
          throw new HutchError(`invalid log option max-file=${value}`, {
            hint: `give the number of files to keep, 1 to ${MAX_LOG_FILES}, the current one included`,
          });
        }
        config.maxFile = Number(value);
        break;
      case 'path':
        if (value === '') throw new HutchError('invalid log option path=: the path is empty');
        config.path = resolve(cwd, value);
        break;
      case 'tag':
        config.tag = value;
        break;
      default:
        // podman takes any NAME and ignores it: refused here, so that a misspelt max-size does
        // not leave a log unbounded unnoticed (docs/compat.md).
        throw new HutchError(`unsupported log option ${JSON.stringify(opt)}`, {
          hint: 'hutch takes max-size=SIZE, max-file=N, path=FILE and tag=TAG',
        });
    }
  }
  if (config.maxFile !== undefined && config.maxSize === 0) {
    throw new HutchError(`invalid log option max-file=${config.maxFile}: it needs max-size`, {
      hint: 'without max-size the log is never rotated; add --log-opt max-size=SIZE',
    });
  }
  return config;
}

/** Where the k8s-file log of a container is (undefined: it writes none). */
export function logPath(config: LogConfig | undefined, containerDir: string): string | undefined {
  const log = config ?? DEFAULT_LOG;
  if (log.driver !== 'k8s-file' && log.driver !== 'json-file') return undefined;
  return log.path ?? join(containerDir, 'ctr.log');
}

/** The log part of a container's MonitorOptions. */
export function monitorLogOptions(
  config: LogConfig | undefined,
  containerDir: string,
): { log: string | undefined; logRotation?: { maxSize: number; maxFiles: number }; passthrough: boolean } {
  const log = config ?? DEFAULT_LOG;
  const path = logPath(log, containerDir);
  return {
    log: path,
    ...(path !== undefined && log.maxSize > 0
      ? { logRotation: { maxSize: log.maxSize, maxFiles: log.maxFile ?? 1 } }
      : {}),
    passthrough: log.driver === 'passthrough',
  };
}

/** HostConfig.LogConfig as podman's inspect shows it (Config also lists max-file, which podman ignores). */
export function inspectLogConfig(
  config: LogConfig | undefined,
  containerDir: string,
): { Type: string; Config: Record<string, string> | null; Path: string; Tag: string; Size: string } {
  const log = config ?? DEFAULT_LOG;
  return {
    Type: log.driver,
    Config: log.maxFile === undefined ? null : { 'max-file': String(log.maxFile) },
    Path: logPath(log, containerDir) ?? log.path ?? '',
    Tag: log.tag ?? '',
    Size: formatLogSize(log.maxSize),
  };
}

/**
 * podman's refusal of passthrough when our stdin, stdout or stderr is a
 * terminal: the container could push input into it (TIOCSTI) or change it.
 */
export function refuseTerminalPassthrough(isTerminal: (fd: number) => boolean = isatty): void {
  if ([0, 1, 2].some((fd) => isTerminal(fd))) {
    throw new HutchError("the '--log-driver passthrough' option cannot be used on a TTY", {
      hint: 'redirect stdin, stdout and stderr (to files or pipes), or use the default k8s-file log',
    });
  }
}

/** podman's words for `logs` on a container without a log. */
export function noLogsError(config: LogConfig | undefined): HutchError | undefined {
  const driver = (config ?? DEFAULT_LOG).driver;
  if (driver !== 'none' && driver !== 'passthrough') return undefined;
  return new HutchError(
    `this container is using the '${driver}' log driver, cannot read logs: this container is not logging output`,
  );
}
