/**
 * `hutch pause` and `hutch unpause`: the cgroup freezer on each container's
 * cgroup, each name's outcome as it comes. One module for both: they are the
 * two directions of one switch, with the same checks.
 */
import { HutchError } from '../errors.js';
import { freeze, isFrozen } from '../run/cgroups/index.js';
import { runningCgroup, shortId } from '../run/cgroups/container-cgroup.js';
import { openRuntime } from '../run/container/lifecycle.js';
import { eachName, type Outcome } from './outcomes.js';

async function* setFrozen(names: readonly string[], frozen: boolean): AsyncGenerator<Outcome<void>, void, undefined> {
  const runtime = await openRuntime();
  const verb = frozen ? 'pause' : 'unpause';
  yield* eachName(names, async (name) => {
    const container = runtime.containers.find(name);
    const cgroup = runningCgroup(container, verb);
    if (isFrozen(cgroup) === frozen) {
      throw new HutchError(
        `${shortId(container)} is ${frozen ? 'already paused' : 'not paused'}: container state improper`,
      );
    }
    await freeze(cgroup, frozen);
  });
}

export function pause(names: readonly string[]): AsyncGenerator<Outcome<void>, void, undefined> {
  return setFrozen(names, true);
}

export function unpause(names: readonly string[]): AsyncGenerator<Outcome<void>, void, undefined> {
  return setFrozen(names, false);
}
