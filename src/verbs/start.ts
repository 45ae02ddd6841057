/**
 * `hutch start`: detached, each container not running yet is started (each
 * name's outcome as it comes); with -a, one container started and its I/O
 * relayed to stdio until it exits (its status comes back).
 */
import { HutchError } from '../errors.js';
import { attach, terminalSize, type Stdio } from '../run/container/attach.js';
import { cleanupContainer, openRuntime, startContainer } from '../run/container/lifecycle.js';
import { eachName, type Outcome } from './outcomes.js';

export async function* start(names: readonly string[]): AsyncGenerator<Outcome<void>, void, undefined> {
  const runtime = await openRuntime();
  yield* eachName(names, async (name) => {
    const container = runtime.containers.find(name);
    if (container.state.status !== 'running') await startContainer(runtime, container, { attach: false });
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
  const started = await startContainer(runtime, container, { attach: true, terminalSize: terminalSize(stdio.stdout) });
  const status = await attach(runtime, container, started.client, stdio, {
    tty: container.config.options.tty,
    interactive: options.interactive && container.config.options.interactive,
  });
  await cleanupContainer(runtime, container.config.id);
  return status;
}
