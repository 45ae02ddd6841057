/**
 * `hutch restart [-t N] CONTAINER…`: stop (the stop signal, SIGKILL after N
 * seconds) and start again, detached; a container that is not running is just
 * started. Each name's outcome as it comes.
 */
import { HutchError } from '../errors.js';
import {
  openRuntime,
  startContainer,
  stopContainer,
  waitForMonitor,
  type Runtime,
} from '../run/container/lifecycle.js';
import type { Container } from '../run/container/store.js';
import type { Outcome } from './outcomes.js';
import { eachTarget, selectTargets, type TargetOptions } from './targets.js';

export interface RestartOptions extends TargetOptions {
  /** Seconds between the stop signal and SIGKILL (default: the container's stop timeout, 10). */
  timeoutSeconds?: number;
  /** --running: with --all, only the containers that run. */
  running?: boolean;
}

async function restartContainer(runtime: Runtime, target: Container, timeoutSeconds?: number): Promise<void> {
  const container = runtime.containers.read(target.config.id) ?? target;
  if (container.state.status === 'running') {
    await stopContainer(runtime, container, timeoutSeconds);
  }
  await waitForMonitor(container);
  const current = runtime.containers.read(container.config.id);
  if (current === undefined) {
    throw new HutchError(`container ${container.config.name} was removed when it stopped (it was run with --rm)`);
  }
  await startContainer(runtime, current, { attach: false });
}

export async function* restart(
  options: RestartOptions,
  env: NodeJS.ProcessEnv = process.env,
): AsyncGenerator<Outcome<void>, void, undefined> {
  const runtime = await openRuntime(env);
  const targets = selectTargets(runtime, options, {
    allOf: (c) => options.running !== true || c.state.status === 'running',
  });
  yield* eachTarget(targets, (container) => restartContainer(runtime, container, options.timeoutSeconds));
}
