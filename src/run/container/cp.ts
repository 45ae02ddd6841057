/**
 * `hutch cp SRC DST`, docker's rules: exactly one side is CONTAINER:PATH (a
 * colon before any slash; a host path with a colon is written ./a:b), paths in
 * the container are relative to its root, `DIR/.` copies a directory's
 * content, a trailing slash requires a directory. The copy itself is copy.ts
 * (in-root resolution: a symlink of the container never leads outside it).
 *
 * A running container's root file system is mounted in the session already; a
 * stopped one's is mounted for the copy, with its driver, and unmounted after.
 * Paths covered by the container's volumes and tmpfs mounts are its own mount
 * namespace's: the copy sees the root file system under them, as podman does
 * for a stopped container.
 */
import { readFileSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { HutchError } from '../../errors.js';
import { rootfsDriver } from '../rootfs/probe.js';
import { copyFromContainer, copyToContainer } from './copy.js';
import { imageLowers, openRuntime, type Runtime } from './lifecycle.js';
import type { Container } from './store.js';
import { parseMountinfo } from '../../host/mountinfo.js';

export interface CpFlags {
  source: string;
  destination: string;
  /** -a: keep owners (uid/gid) as they are in the source. */
  archive: boolean;
  /** -L: follow a symlink at the source. */
  followLink: boolean;
}

/** `CONTAINER:PATH` or a host path, as docker splits a cp argument. */
export function splitCpArgument(arg: string): { container: string; path: string } | { host: string } {
  if (arg.startsWith('/') || arg.startsWith('.')) return { host: arg };
  const colon = arg.indexOf(':');
  const slash = arg.indexOf('/');
  if (colon <= 0 || (slash >= 0 && slash < colon)) return { host: arg };
  const path = arg.slice(colon + 1);
  return { container: arg.slice(0, colon), path: path === '' ? '/' : path };
}

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

export async function cpVerb(flags: CpFlags, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const source = splitCpArgument(flags.source);
  const destination = splitCpArgument(flags.destination);
  if (flags.source === '-' || flags.destination === '-') {
    throw new HutchError('copying a tar stream from stdin or to stdout (-) is not supported', {
      hint: 'copy to or from a host path; hutch export writes a whole container as a tar',
    });
  }
  if ('container' in source && 'container' in destination) {
    throw new HutchError('copying between containers is not supported', {
      hint: 'copy to the host first, then into the other container',
    });
  }
  if ('host' in source && 'host' in destination) {
    throw new HutchError('must specify at least one container source', {
      hint: 'write the container side as CONTAINER:PATH, e.g. hutch cp web:/etc/hosts ./hosts',
    });
  }
  const runtime = await openRuntime(env);
  const options = {
    archive: flags.archive,
    followLink: flags.followLink,
    onWarning: (message: string) => process.stderr.write(`warning: ${message}\n`),
  };
  if ('container' in source && 'host' in destination) {
    const container = runtime.containers.find(source.container);
    await withContainerRootfs(runtime, container, (rootfs) =>
      copyFromContainer(rootfs, source.path, destination.host, options),
    );
  } else if ('host' in source && 'container' in destination) {
    const container = runtime.containers.find(destination.container);
    await withContainerRootfs(runtime, container, (rootfs) =>
      copyToContainer(source.host, rootfs, destination.path, options),
    );
  }
}
