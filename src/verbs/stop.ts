/** `hutch stop`: each container's stop signal, then SIGKILL after the timeout. */
import { openRuntime, stopContainer } from '../run/container/lifecycle.js';
import { eachName, type Outcome } from './outcomes.js';

export async function* stop(
  names: readonly string[],
  timeoutSeconds: number | undefined,
): AsyncGenerator<Outcome<void>, void, undefined> {
  const runtime = await openRuntime();
  yield* eachName(names, (name) => stopContainer(runtime, runtime.containers.find(name), timeoutSeconds));
}
