/**
 * `hutch cp SRC DST`, docker's rules: exactly one side is CONTAINER:PATH (a
 * colon before any slash; a host path with a colon is written ./a:b), paths in
 * the container are relative to its root, `DIR/.` copies a directory's
 * content, a trailing slash requires a directory. The copy itself is
 * src/run/container/copy.ts (in-root resolution: a symlink of the container
 * never leads outside it), on the tree mounted-rootfs.ts provides.
 */
import { HutchError } from '../errors.js';
import { copyFromContainer, copyToContainer } from '../run/container/copy.js';
import { openRuntime } from '../run/container/lifecycle.js';
import { withContainerRootfs } from '../run/container/mounted-rootfs.js';

export interface CpOptions {
  source: string;
  destination: string;
  /** -a: keep owners (uid/gid) as they are in the source. */
  archive: boolean;
  /** -L: follow a symlink at the source. */
  followLink: boolean;
  /** What the copy could not keep (an owner, a special file…), as it goes. */
  onWarning: (message: string) => void;
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

export async function cp(flags: CpOptions, env: NodeJS.ProcessEnv = process.env): Promise<void> {
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
  const options = { archive: flags.archive, followLink: flags.followLink, onWarning: flags.onWarning };
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
