/**
 * A container's healthcheck, as podman 4.3 takes it: from `--health-cmd`,
 * `--health-interval`, `--health-retries`, `--health-timeout`,
 * `--health-start-period` and `--health-on-failure` (or the image's
 * HEALTHCHECK when no command is given; `--no-healthcheck` or `none` turn
 * both off), checked at create and kept in config.json. Running a check and
 * its state are health-run.ts's and health-log.ts's; the monitor runs one every interval
 * (src/run/monitor.ts `periodic`).
 */
import { HutchError } from '../../errors.js';
import type { HealthConfig } from '../../image/oci.js';
import { parseGoDuration } from '../../units.js';

export type HealthOnFailure = 'none' | 'kill' | 'restart' | 'stop';

/** What config.json keeps: docker's test form and the times in milliseconds. */
export interface HealthcheckConfig {
  /** ['CMD', argv…] or ['CMD-SHELL', command]. */
  test: string[];
  /** 0: no periodic check (`--health-interval disable`); `hutch healthcheck run` still works. */
  intervalMs: number;
  timeoutMs: number;
  startPeriodMs: number;
  retries: number;
  onFailure: HealthOnFailure;
}

/** The --health-* flags as given (src/cli/container-flags.ts); absent ones take podman's defaults. */
export interface HealthFlags {
  cmd?: string | undefined;
  interval?: string | undefined;
  retries?: string | undefined;
  timeout?: string | undefined;
  startPeriod?: string | undefined;
  onFailure?: string | undefined;
  /** --no-healthcheck. */
  disabled: boolean;
}

const ON_FAILURE: readonly HealthOnFailure[] = ['none', 'kill', 'restart', 'stop'];
const NS_PER_MS = 1e6;

function duration(value: string, flag: string): number {
  return parseGoDuration(value, (reason) => {
    throw new HutchError(`invalid ${flag}: ${reason}`, { hint: 'give a Go duration: 30s, 1m30s, 500ms' });
  });
}

/**
 * --health-cmd into docker's test form, as podman 4.3 reads it: a JSON array
 * is an argv (CMD), unless it starts with CMD or CMD-SHELL itself; any other
 * text is a shell command (CMD-SHELL); `none` turns the check off (NONE).
 */
export function parseHealthCmd(text: string): string[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  if (Array.isArray(parsed) && parsed.every((p) => typeof p === 'string')) {
    const argv = parsed as string[];
    if (argv.length === 0) throw new HutchError('must define a healthcheck command for all healthchecks');
    if (argv[0] === 'CMD' || argv[0] === 'CMD-SHELL' || argv[0] === 'NONE') return argv;
    if (argv[0] === 'none') return ['NONE'];
    return argv.length > 1 ? ['CMD', ...argv] : ['CMD-SHELL', argv[0] as string];
  }
  if (text.trim() === '') throw new HutchError('must define a healthcheck command for all healthchecks');
  const fields = text.trim().split(/\s+/);
  // podman's compatibility forms: "CMD a b" is an argv, "none" no check.
  if (fields[0] === 'none') return ['NONE'];
  if (fields[0] === 'CMD') return fields;
  return ['CMD-SHELL', text];
}

/** The image's HEALTHCHECK (times in nanoseconds), with docker's defaults for what it leaves out. */
function fromImage(image: HealthConfig): HealthcheckConfig | undefined {
  const test = image.Test ?? [];
  if (test.length === 0 || test[0] === 'NONE') return undefined;
  const ms = (ns: number | undefined, fallback: number) => (ns === undefined || ns <= 0 ? fallback : ns / NS_PER_MS);
  return {
    test,
    intervalMs: ms(image.Interval, 30_000),
    timeoutMs: ms(image.Timeout, 30_000),
    startPeriodMs: ms(image.StartPeriod, 0),
    retries: image.Retries === undefined || image.Retries <= 0 ? 3 : image.Retries,
    onFailure: 'none',
  };
}

/**
 * The healthcheck a new container gets, or undefined for none. Every refusal
 * is a HutchError in podman's words (exit 125).
 */
export function resolveHealthcheck(flags: HealthFlags, image: HealthConfig | undefined): HealthcheckConfig | undefined {
  const onFailure = flags.onFailure ?? 'none';
  if (!(ON_FAILURE as string[]).includes(onFailure)) {
    throw new HutchError(
      `invalid on-failure action "${onFailure}" for health check: supported actions are ${ON_FAILURE.join(',')}`,
    );
  }
  if (flags.disabled) {
    if (flags.cmd !== undefined) throw new HutchError('cannot specify both --no-healthcheck and --health-cmd');
    return undefined;
  }
  if (flags.cmd === undefined) {
    if (image === undefined) return undefined;
    const fromIt = fromImage(image);
    return fromIt === undefined ? undefined : { ...fromIt, onFailure: onFailure as HealthOnFailure };
  }
  const test = parseHealthCmd(flags.cmd);
  const interval = flags.interval ?? '30s';
  const intervalNs = interval === 'disable' ? 0 : duration(interval, 'healthcheck-interval');
  const retriesText = flags.retries ?? '3';
  if (!/^\d+$/.test(retriesText)) {
    throw new HutchError(`invalid argument ${JSON.stringify(retriesText)} for "--health-retries" flag`, {
      hint: 'give a whole number, 1 or more',
    });
  }
  const retries = Number(retriesText);
  if (retries < 1) throw new HutchError('healthcheck-retries must be greater than 0');
  const timeoutNs = duration(flags.timeout ?? '30s', 'healthcheck-timeout');
  if (timeoutNs < 1e9) throw new HutchError('healthcheck-timeout must be at least 1 second');
  const startPeriodNs = duration(flags.startPeriod ?? '0s', 'healthcheck-start-period');
  if (startPeriodNs < 0) throw new HutchError('healthcheck-start-period must be 0 seconds or greater');
  if (intervalNs < 0) throw new HutchError('healthcheck-interval must be 0 seconds or greater');
  if (test[0] === 'NONE') return undefined;
  return {
    test,
    intervalMs: intervalNs / NS_PER_MS,
    timeoutMs: timeoutNs / NS_PER_MS,
    startPeriodMs: startPeriodNs / NS_PER_MS,
    retries,
    onFailure: onFailure as HealthOnFailure,
  };
}

/** The argv a check runs in the container (podman's rules: CMD-SHELL through /bin/sh -c). */
export function healthcheckArgv(config: HealthcheckConfig): string[] {
  const [kind, ...rest] = config.test;
  if (kind === 'CMD') return rest;
  if (kind === 'CMD-SHELL') return ['/bin/sh', '-c', rest.join(' ')];
  return config.test;
}

/** Config.Healthcheck as podman's inspect shows it (nanoseconds; StartPeriod only when set). */
export function inspectHealthcheck(config: HealthcheckConfig): Record<string, unknown> {
  return {
    Test: config.test,
    ...(config.startPeriodMs > 0 ? { StartPeriod: config.startPeriodMs * NS_PER_MS } : {}),
    Interval: config.intervalMs * NS_PER_MS,
    Timeout: config.timeoutMs * NS_PER_MS,
    Retries: config.retries,
  };
}

/** Go's time.Duration.String() of a whole number of milliseconds: 1s, 1m30s, 500ms, 1h0m0s. */
export function formatGoDuration(ms: number): string {
  if (ms === 0) return '0s';
  if (ms < 1000) return `${ms}ms`;
  const hours = Math.floor(ms / 3_600_000);
  const minutes = Math.floor((ms % 3_600_000) / 60_000);
  const seconds = (ms % 60_000) / 1000;
  const s = `${seconds}s`;
  if (hours > 0) return `${hours}h${minutes}m${s}`;
  if (minutes > 0) return `${minutes}m${s}`;
  return s;
}
