/**
 * A container's health, as podman 4.3 keeps it: `starting` at each start,
 * `healthy` after a check that passed, `unhealthy` after `retries` failures
 * in a row (failures within the start period do not count), and the last 5
 * checks with their output (at most 500 bytes each). Kept in state.json
 * (ContainerState.health); checks are run by health-run.ts. Pure.
 */
export type HealthStatus = 'starting' | 'healthy' | 'unhealthy';

export interface HealthLogEntry {
  /** When the check started and ended, as podman's inspect shows them (RFC 3339, no trailing zeros). */
  start: string;
  end: string;
  /** 0 healthy, 1 failed, -1 timed out (podman's values). */
  exitCode: number;
  output: string;
}

export interface HealthState {
  status: HealthStatus;
  failingStreak: number;
  log: HealthLogEntry[];
}

/** podman's MaxHealthCheckNumberLogs and MaxHealthCheckLogLength. */
const MAX_LOG_ENTRIES = 5;
export const MAX_HEALTH_OUTPUT = 500;

/** The health of a container that has just started: starting, its streak and log kept. */
export function startingHealth(previous: HealthState | undefined): HealthState {
  return { status: 'starting', failingStreak: previous?.failingStreak ?? 0, log: previous?.log ?? [] };
}

/** podman's updateHealthCheckLog: the new entry, the streak, the status. */
export function recordCheck(
  previous: HealthState | undefined,
  entry: HealthLogEntry,
  options: { retries: number; inStartPeriod: boolean },
): HealthState {
  let status: HealthStatus = previous?.status ?? 'starting';
  let failingStreak = previous?.failingStreak ?? 0;
  if (entry.exitCode === 0) {
    status = 'healthy';
    failingStreak = 0;
  } else if (!options.inStartPeriod) {
    failingStreak += 1;
    if (failingStreak >= options.retries) status = 'unhealthy';
  }
  const log = [...(previous?.log ?? []), entry].slice(-MAX_LOG_ENTRIES);
  return { status, failingStreak, log };
}

/** What the health functions need of a container (its config's healthcheck and its state). */
export interface HealthOf {
  hasHealthcheck: boolean;
  running: boolean;
  health: HealthState | undefined;
}

/** State.Health as podman's inspect shows it (Status '' and no log for a container without a check). */
export function inspectHealth(of: HealthOf): Record<string, unknown> {
  const health = of.hasHealthcheck ? of.health : undefined;
  return {
    Status: health?.status ?? '',
    FailingStreak: health?.failingStreak ?? 0,
    Log:
      health === undefined || health.log.length === 0
        ? null
        : health.log.map((e) => ({
            Start: e.start,
            End: e.end,
            ExitCode: e.exitCode,
            Output: e.output,
          })),
  };
}

/** The health ps shows after "Up …" of a running container with a healthcheck, else undefined. */
export function healthSummary(of: HealthOf): HealthStatus | undefined {
  if (!of.hasHealthcheck || !of.running) return undefined;
  return of.health?.status ?? 'starting';
}
