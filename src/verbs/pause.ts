/**
 * `hutch pause` and `hutch unpause`: the cgroup freezer on each container's
 * cgroup, each name's outcome as it comes. One module for both: they are the
 * two directions of one switch, with the same checks.
 */
import { HutchError } from '../errors.js';
import { freeze, isFrozen, isPaused } from '../run/cgroups/index.js';
import { runningCgroup, shortId } from '../run/cgroups/container-cgroup.js';
import { openRuntime } from '../run/container/lifecycle.js';
import type { Outcome } from './outcomes.js';
import { eachTarget, selectTargets, type TargetOptions } from './targets.js';

/** --all: pause takes the running containers that are not paused, unpause the paused ones. */
async function* setFrozen(options: TargetOptions, frozen: boolean): AsyncGenerator<Outcome<void>, void, undefined> {
  const runtime = await openRuntime();
  const verb = frozen ? 'pause' : 'unpause';
  const targets = selectTargets(runtime, options, {
    allOf: (c) => c.state.status === 'running' && isPaused(c.state) !== frozen,
  });
  yield* eachTarget(targets, async (container) => {
    const cgroup = runningCgroup(container, verb);
    if (isFrozen(cgroup) === frozen) {
      throw new HutchError(
        `${shortId(container)} is ${frozen ? 'already paused' : 'not paused'}: container state improper`,
      );
    }
    await freeze(cgroup, frozen);
  });
}

export function pause(options: TargetOptions): AsyncGenerator<Outcome<void>, void, undefined> {
  return setFrozen(options, true);
}

export function unpause(options: TargetOptions): AsyncGenerator<Outcome<void>, void, undefined> {
  return setFrozen(options, false);
}
