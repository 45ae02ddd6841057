/**
 * `hutch restart [-t N] CONTAINER…`: stop (the stop signal, SIGKILL after N
 * seconds) and start again, detached; a container that is not running is just
 * started. Prints each name as given, like podman.
 */
import { HutchError } from '../../errors.js';
import { openRuntime, startContainer, stopContainer, waitForMonitor, type Runtime } from './lifecycle.js';

export async function restartContainer(runtime: Runtime, name: string, timeoutSeconds?: number): Promise<void> {
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

export async function restartVerb(
  names: string[],
  timeoutSeconds: number | undefined,
  env: NodeJS.ProcessEnv = process.env,
): Promise<void> {
  const runtime = await openRuntime(env);
  let last: unknown;
  for (const name of names) {
    try {
      await restartContainer(runtime, name, timeoutSeconds);
      process.stdout.write(`${name}\n`);
    } catch (error) {
      if (last !== undefined) process.stderr.write(`Error: ${(last as Error).message}\n`);
      last = error;
    }
  }
  if (last !== undefined) throw last;
}
