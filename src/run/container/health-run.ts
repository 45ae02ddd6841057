/**
 * Running a container's healthcheck once, as podman 4.3 does: its command
 * runs in the container (an exec session with the container's user,
 * environment and working directory), killed at the timeout; its output
 * (stdout and stderr) and status become an entry of the container's health
 * (health-log.ts), written to state.json under the container's lock.
 *
 * Who runs it: `hutch healthcheck run`, and the container's monitor, which
 * execs that command every interval (startContainer's `periodic`).
 */
import { Readable, Writable } from 'node:stream';
import { HutchError } from '../../errors.js';
import { execInContainer } from './exec.js';
import { formatGoDuration, healthcheckArgv, type HealthcheckConfig } from './healthcheck.js';
import type { Runtime } from './lifecycle.js';
import { formatLogTimestamp } from './logs.js';
import { MAX_HEALTH_OUTPUT, recordCheck, type HealthLogEntry, type HealthState } from './health-log.js';
import type { Container } from './store.js';

/** What one check did. */
export interface CheckResult {
  /** This check's own verdict (podman prints `unhealthy` and exits 1 when it failed). */
  passed: boolean;
  /** The container's health after it. */
  health: HealthState;
  /** Set when the command ran past the timeout (podman's error, exit 125). */
  timeoutError: HutchError | undefined;
}

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer, _encoding: BufferEncoding, done: () => void): void {
    if (this.text.length < MAX_HEALTH_OUTPUT * 4) this.text += chunk.toString('utf8');
    done();
  }
}

/** The container's healthcheck, or podman's error for one without. */
export function healthcheckOf(container: Container): HealthcheckConfig {
  const config = container.config.options.healthcheck;
  if (config === undefined) throw new HutchError(`container ${container.config.id} has no defined healthcheck`);
  return config;
}

/**
 * Runs the check once in the running container and records it. Throws
 * (nothing recorded) when the container has no healthcheck or does not run.
 */
export async function runHealthcheck(runtime: Runtime, container: Container): Promise<CheckResult> {
  const config = healthcheckOf(container);
  if (container.state.status !== 'running') {
    throw new HutchError(`container ${container.config.id} is not running`, {
      hint: `start it first (hutch start ${container.config.name})`,
    });
  }
  const startedAt = new Date();
  const output = new Capture();
  let exitCode = 1;
  let timedOut = false;
  try {
    const outcome = await execInContainer(
      runtime,
      container,
      { stdin: Readable.from([]), stdinFd: -1, stdout: output, stderr: output },
      {
        command: healthcheckArgv(config),
        interactive: false,
        tty: false,
        detach: false,
        user: undefined,
        workdir: undefined,
        privileged: false,
        extraEnv: [],
        killAfterMs: config.timeoutMs,
      },
    );
    if ('status' in outcome) {
      exitCode = outcome.status === 0 ? 0 : 1;
      timedOut = outcome.timedOut === true;
    }
  } catch (error) {
    // A command that cannot be run (not found, not executable) is a failed check, as in podman.
    if (!(error instanceof HutchError) || (error.exitCode !== 126 && error.exitCode !== 127)) throw error;
    output.text += error.message;
  }
  const endedAt = new Date();
  if (timedOut || endedAt.getTime() - startedAt.getTime() > config.timeoutMs) {
    timedOut = true;
    exitCode = -1;
  }
  const entry: HealthLogEntry = {
    start: formatLogTimestamp(startedAt.toISOString()),
    end: formatLogTimestamp(endedAt.toISOString()),
    exitCode,
    output: output.text.replace(/\n+$/, '').slice(0, MAX_HEALTH_OUTPUT),
  };
  const started = Date.parse(container.state.startedAt ?? '') || 0;
  const inStartPeriod = config.startPeriodMs > 0 && startedAt.getTime() < started + config.startPeriodMs;
  const health = await updateHealth(runtime, container.config.id, (previous) =>
    recordCheck(previous, entry, { retries: config.retries, inStartPeriod }),
  );
  return {
    passed: exitCode === 0,
    health,
    timeoutError: timedOut
      ? new HutchError(`healthcheck command exceeded timeout of ${formatGoDuration(config.timeoutMs)}`)
      : undefined,
  };
}

/** Changes the health in state.json under the container's lock; returns what was written. */
async function updateHealth(
  runtime: Runtime,
  id: string,
  change: (previous: HealthState | undefined) => HealthState,
): Promise<HealthState> {
  const release = await runtime.containers.lock(id);
  try {
    const current = runtime.containers.read(id);
    if (current === undefined) throw new HutchError(`container ${id} was removed during its healthcheck`);
    const health = change(current.state.health);
    runtime.containers.writeState(id, { ...current.state, health });
    return health;
  } finally {
    release();
  }
}
