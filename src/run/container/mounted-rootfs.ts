/**
 * A container's root file system on the host, for the verbs that read or
 * write it from outside (cp, export): a running container's is mounted in the
 * session already; a stopped one's is mounted with its driver for the task
 * and unmounted after, under the container's lock. Paths covered by the
 * container's volumes and tmpfs mounts are its own mount namespace's: the
 * task sees the root file system under them, as podman does for a stopped
 * container.
 */
import { readFileSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { HutchError } from '../../errors.js';
import { rootfsDriver } from '../rootfs/probe.js';
import { imageLowers, type Runtime } from './lifecycle.js';
import type { Container } from './store.js';
import { parseMountinfo } from '../../host/mountinfo.js';

function isMountPoint(path: string): boolean {
  let real: string;
  try {
    real = realpathSync(path);
  } catch {
    return false;
  }
  return parseMountinfo(readFileSync('/proc/self/mountinfo', 'utf8')).some((m) => m.mountPoint === real);
}

/**
 * Runs fn with the host path of the container's root file system, under the
 * container's lock (so it is neither started, cleaned up nor removed
 * meanwhile): the mounted tree of a running container, else the tree mounted
 * for fn with the container's driver and unmounted after.
 */
export async function withContainerRootfs<T>(
  runtime: Runtime,
  container: Container,
  fn: (rootfs: string, current: Container) => Promise<T> | T,
): Promise<T> {
  const release = await runtime.containers.lock(container.config.id);
  try {
    const current = runtime.containers.read(container.config.id);
    if (current === undefined) throw new HutchError(`container ${container.config.name} was removed`);
    const merged = join(current.dir, 'merged');
    if (current.state.status === 'running' || isMountPoint(merged)) return await fn(merged, current);
    const driver = rootfsDriver(current.config.rootfsDriver);
    await driver.mount(
      {
        lowers: imageLowers(runtime, current),
        upper: join(current.dir, 'upper'),
        work: join(current.dir, 'work'),
        target: merged,
      },
      { rootless: !runtime.identity.root },
    );
    try {
      return await fn(merged, current);
    } finally {
      await driver.unmount(merged);
    }
  } finally {
    release();
  }
}
