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
import { eachName, type Outcome } from './outcomes.js';

async function restartContainer(runtime: Runtime, name: string, timeoutSeconds?: number): Promise<void> {
  const container = runtime.containers.find(name);
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
  names: readonly string[],
  timeoutSeconds: number | undefined,
  env: NodeJS.ProcessEnv = process.env,
): AsyncGenerator<Outcome<void>, void, undefined> {
  const runtime = await openRuntime(env);
  yield* eachName(names, (name) => restartContainer(runtime, name, timeoutSeconds));
}
