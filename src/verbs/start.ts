/**
 * `hutch start`: detached, each container not running yet is started (each
 * name's outcome as it comes); with -a, one container started and its I/O
 * relayed to stdio until it exits (its status comes back).
 */
import { ExitCode, HutchError } from '../errors.js';
import { attach, terminalSize, type Stdio } from '../run/container/attach.js';
import { cleanupContainer, openRuntime, startContainer } from '../run/container/lifecycle.js';
import type { Outcome } from './outcomes.js';
import { eachTarget, selectTargets, type TargetOptions } from './targets.js';

/**
 * podman's start fails with 125 whatever kept the container from starting
 * (run says 126 or 127 for a command that cannot be run or is not found).
 */
async function startingAs125<T>(start: () => Promise<T>): Promise<T> {
  try {
    return await start();
  } catch (error) {
    if (error instanceof HutchError && error.exitCode !== ExitCode.Error) {
      throw new HutchError(error.message, { hint: error.hint, exitCode: ExitCode.Error, cause: error });
    }
    throw error;
  }
}

/** The containers named, or --all (every one), --latest, --filter; one already running is left as it is. */
export async function* start(options: TargetOptions): AsyncGenerator<Outcome<void>, void, undefined> {
  const runtime = await openRuntime();
  const targets = selectTargets(runtime, options);
  yield* eachTarget(targets, async (target) => {
    const container = runtime.containers.read(target.config.id) ?? target;
    if (container.state.status !== 'running') {
      await startingAs125(() => startContainer(runtime, container, { attach: false }));
    }
  });
}

export async function startAttached(
  names: readonly string[],
  stdio: Stdio,
  options: { interactive: boolean },
): Promise<number> {
  const runtime = await openRuntime();
  if (names.length !== 1)
    throw new HutchError('you can only attach to one container', { hint: 'start one container with -a' });
  const container = runtime.containers.find(names[0] as string);
  const started = await startingAs125(() =>
    startContainer(runtime, container, { attach: true, terminalSize: terminalSize(stdio.stdout) }),
  );
  const status = await attach(runtime, container, started.client, stdio, {
    tty: container.config.options.tty,
    interactive: options.interactive && container.config.options.interactive,
  });
  await cleanupContainer(runtime, container.config.id);
  return status;
}
