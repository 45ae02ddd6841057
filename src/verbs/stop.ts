/**
 * `hutch stop`: each container's stop signal, then SIGKILL after the timeout
 * (with a warning saying so); the containers named, or --all, --latest,
 * --cidfile, --filter. Containers that do not run are only cleaned up.
 */
import { openRuntime, stopContainer } from '../run/container/lifecycle.js';
import type { Outcome } from './outcomes.js';
import { eachTarget, selectTargets, type TargetOptions } from './targets.js';

export interface StopOptions extends TargetOptions {
  /** Seconds between the stop signal and SIGKILL (default: the container's stop timeout, 10). */
  timeoutSeconds?: number;
  onWarning: (message: string) => void;
}

export async function* stop(options: StopOptions): AsyncGenerator<Outcome<void>, void, undefined> {
  const runtime = await openRuntime();
  const targets = selectTargets(runtime, options);
  yield* eachTarget(targets, (container) =>
    stopContainer(runtime, container, options.timeoutSeconds, { onWarning: options.onWarning }),
  );
}
