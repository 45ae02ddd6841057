/** `hutch update`: new limits on a running container's cgroup, kept in its state; returns its id (podman prints it). */
import { HutchError } from '../errors.js';
import { updateLimits, type Limits } from '../run/cgroups/index.js';
import { runningCgroup } from '../run/cgroups/container-cgroup.js';
import { openRuntime } from '../run/container/lifecycle.js';

export async function update(name: string, limits: Limits): Promise<string> {
  if (Object.keys(limits).length === 0) {
    throw new HutchError('nothing to update', { hint: 'give a limit to change, e.g. --memory 256m or --cpus 1' });
  }
  const runtime = await openRuntime();
  const found = runtime.containers.find(name);
  const release = await runtime.containers.lock(found.config.id);
  try {
    const container = runtime.containers.read(found.config.id);
    if (container === undefined) throw new HutchError(`container ${found.config.name} was removed`);
    const cgroup = runningCgroup(container, 'update');
    const next = await updateLimits(cgroup, limits);
    runtime.containers.writeState(container.config.id, { ...container.state, cgroup: next });
    runtime.containers.writeResources(container.config.id, next.limits);
  } finally {
    release();
  }
  return found.config.id;
}
