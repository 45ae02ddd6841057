/** `hutch wait`: each container's exit code once it is not running (0 for one that never ran, as podman; -1 when it is gone). */
import { openRuntime, waitForExit } from '../run/container/lifecycle.js';
import type { Outcome } from './outcomes.js';
import { eachTarget, selectTargets, type TargetOptions } from './targets.js';

export async function* wait(options: TargetOptions): AsyncGenerator<Outcome<number>, void, undefined> {
  const runtime = await openRuntime();
  const targets = selectTargets(runtime, options);
  yield* eachTarget(targets, async (container) => {
    const after = await waitForExit(runtime, container.config.id);
    if (after === undefined) return -1;
    return after.state.exitCode ?? 0;
  });
}
