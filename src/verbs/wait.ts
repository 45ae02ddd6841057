/** `hutch wait`: each container's exit code once it has exited (-1 when none was recorded). */
import { openRuntime, waitForExit } from '../run/container/lifecycle.js';
import { eachName, type Outcome } from './outcomes.js';

export async function* wait(names: readonly string[]): AsyncGenerator<Outcome<number>, void, undefined> {
  const runtime = await openRuntime();
  yield* eachName(names, async (name) => {
    const container = runtime.containers.find(name);
    const after = await waitForExit(runtime, container.config.id);
    return after?.state.exitCode ?? -1;
  });
}
