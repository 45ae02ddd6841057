/**
 * `hutch cp [CONTAINER:]SRC [CONTAINER:]DEST`, as podman 4.3's cp decides
 * (cmd/podman/containers/cp.go): host to container, container to host,
 * container to container, and `-` for a tar archive on stdin (into a
 * directory of the container) or on stdout (what a container path holds).
 *
 * The destination decides the name: an existing directory receives SRC
 * under its own name (a directory's content with "SRC/."), an existing file
 * is replaced, and a missing path is created from its parent directory,
 * which must exist. Relative container paths start at the container's
 * working directory; a symlink at SRC is followed, in the container inside
 * it. Copied into a container, files belong to the container's user
 * (--archive, the default) or keep the ids they come with (--archive=false);
 * copied to the host, they belong to the user.
 *
 * The trees are read and written by src/run/copy (every path resolved inside
 * its tree), on what src/run/container/container-files.ts opens: a running
 * container's own view, or a stopped one's rootfs, volumes and binds.
 */
import { realpathSync, statSync, type Stats } from 'node:fs';
import { posix } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { HutchError, withContext } from '../errors.js';
import { cleanPath, isWithin, UnsafePathError } from '../fs/in-root.js';
import {
  withContainerFiles,
  type ContainerFiles,
  type Ids,
  type TreeLocation,
} from '../run/container/container-files.js';
import { openRuntime, type Runtime } from '../run/container/lifecycle.js';
import type { Container } from '../run/container/store.js';
import {
  baseName,
  containerPathAbs,
  hostPathAbs,
  namesContent,
  parseCpArgument,
  preserveBasePath,
  withoutContentSuffix,
} from '../run/copy/cp-paths.js';
import { EntryWriter } from '../run/copy/entry-writer.js';
import { NotAnArchiveError, untarInto } from '../run/copy/tar-input.js';
import { tarOfTree } from '../run/copy/tar-output.js';
import { copyTree } from '../run/copy/tree-reader.js';
import { RootedTree } from '../run/copy/tree.js';

export interface CpOptions {
  source: string;
  destination: string;
  /** --archive (podman's default): what is copied into a container belongs to its user; false: keeps its ids. */
  archive: boolean;
  /** --overwrite: a directory may replace a non-directory and the other way round. */
  overwrite: boolean;
  /** What `-` as SRC reads (a tar archive) and `-` as DEST writes (a tar stream). */
  stdin: Readable;
  stdout: Writable;
  /** Where relative host paths start. */
  cwd?: string;
}

/** What a path names, podman's FileInfo: found or not, and where it led. */
type PathInfo =
  | { found: false; reason: string }
  | {
      found: true;
      isDir: boolean;
      isRegular: boolean;
      /** The path, absolute, symlinks evaluated (in a container), the "/" or "/." it ended with kept. */
      linkTarget: string;
    };

type ContainerPathInfo =
  | { found: false; reason: string; evaluated: string | undefined }
  | (Extract<PathInfo, { found: true }> & { location: TreeLocation });

function describe(stat: Stats): { isDir: boolean; isRegular: boolean } {
  return { isDir: stat.isDirectory(), isRegular: stat.isFile() };
}

function reasonOf(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'no such file or directory';
  if (code === 'ENOTDIR') return 'not a directory';
  if (code === 'ELOOP') return 'too many levels of symbolic links';
  if (code === 'EACCES') return 'permission denied';
  return (error as Error).message;
}

/** A host path as podman's ResolveHostPath sees it: absolute, symlinks followed for the stat. */
function statHost(path: string, cwd: string): PathInfo {
  const linkTarget = hostPathAbs(path, cwd);
  try {
    return { found: true, ...describe(statSync(linkTarget)), linkTarget };
  } catch (error) {
    return { found: false, reason: reasonOf(error) };
  }
}

/**
 * A container path as podman's ContainerStat sees it: "/" is "/." (the root's
 * content), a "*" matches nothing (no globbing), relative paths start at the
 * working directory, and symlinks are followed inside the container. A path
 * that is not there may still name where it leads (a symlink into nowhere):
 * `evaluated`.
 */
function statInContainer(files: ContainerFiles, given: string): ContainerPathInfo {
  const path = given === '/' ? '/.' : given;
  if (path.includes('*')) return { found: false, reason: 'no such file or directory', evaluated: undefined };
  const absolute = containerPathAbs(path, files.workdir);
  const location = files.locate(cleanPath(absolute));
  let located;
  try {
    located = location.tree.locate(location.path);
  } catch (error) {
    if (!(error instanceof UnsafePathError)) throw error;
    const reason = / is not a directory in /.test(error.message)
      ? 'not a directory'
      : 'too many levels of symbolic links';
    return { found: false, reason, evaluated: undefined };
  }
  if (located.missing.length > 0 || located.stat === undefined) {
    const evaluated = location.containerPath([located.path, ...located.missing].join('/'));
    return { found: false, reason: 'no such file or directory', evaluated };
  }
  const stat = located.stat;
  return {
    found: true,
    ...describe(stat),
    linkTarget: preserveBasePath(path, location.containerPath(located.path)),
    location: { ...location, path: located.path },
  };
}

function notInContainer(path: string, name: string, reason: string): HutchError {
  return new HutchError(`"${path}" could not be found on container ${name}: ${reason}`);
}

function notOnHost(path: string, reason: string): HutchError {
  return new HutchError(`"${path}" could not be found on the host: ${reason}`);
}

const DIR_TO_FILE = 'destination must be a directory when copying a directory';
const STDIN_TO_FILE = 'destination must be a directory when copying from stdin';

interface Destination {
  /** The name what is copied gets, when the destination is not an existing directory. */
  baseName: string;
  /** An existing directory or file; the parent directory when resolvedToParent. */
  info: Extract<ContainerPathInfo, { found: true }>;
  resolvedToParent: boolean;
}

/**
 * podman's resolvePathOnDestinationContainer: the destination as it is, or,
 * when it is not there (and does not end with "/"), its parent directory.
 */
function containerDestination(files: ContainerFiles, name: string, path: string, stdin: boolean): Destination {
  const info = statInContainer(files, path);
  if (info.found) return { baseName: baseName(info.linkTarget), info, resolvedToParent: false };
  if (path.endsWith('/')) throw notInContainer(path, name, info.reason);
  if (stdin) throw new HutchError(STDIN_TO_FILE);
  const wanted = info.evaluated ?? cleanPath(containerPathAbs(path, files.workdir));
  const parent = statInContainer(files, posix.dirname(wanted));
  if (!parent.found) throw notInContainer(path, name, parent.reason);
  if (!parent.isDir) throw notInContainer(path, name, 'not a directory');
  return { baseName: baseName(wanted), info: parent, resolvedToParent: true };
}

/** The directory a copy writes into: the destination itself, or the directory holding it. */
function targetDirectory(destination: Destination): TreeLocation {
  const { location, isDir, linkTarget } = destination.info;
  if (isDir) return location;
  // DEST/ asks for a directory: a file there is not one (podman's copier refuses it so).
  if (linkTarget.endsWith('/')) {
    throw withContext(
      'cp',
      'copying to container',
      new HutchError(`${linkTarget.slice(0, -1)}: exists but is not a directory`),
    );
  }
  return { ...location, path: posix.dirname(location.path) };
}

/**
 * The name the top of the copy gets (undefined: a directory's content is
 * copied, not the directory): podman's KeepDirectoryNames and Rename.
 */
function topName(source: { isDir: boolean; target: string }, rename: string | undefined): string | undefined {
  if (source.isDir && baseName(source.target) === '.') return undefined;
  return rename ?? baseName(source.target);
}

async function findContainer(runtime: Runtime, name: string): Promise<Container> {
  if (name === '') throw new HutchError('name or ID cannot be empty');
  try {
    return runtime.containers.find(name);
  } catch (error) {
    if (error instanceof HutchError && / no such container$/.test(error.message)) {
      throw new HutchError(`container "${name}" does not exist`, { hint: error.hint });
    }
    throw error;
  }
}

/** Runs a copy step; what fails in it is told as podman tells it ("copying to container: …"). */
async function copying<T>(context: string, step: () => Promise<T> | T): Promise<T> {
  try {
    return await step();
  } catch (error) {
    throw withContext('cp', context, error);
  }
}

function ownersInto(files: ContainerFiles, archive: boolean, from?: ContainerFiles): (ids: Ids) => Ids | undefined {
  if (archive) return () => files.owner;
  if (from === undefined) return (ids) => files.toSession(ids);
  return (ids) => {
    const inSource = from.fromSession(ids);
    return inSource === undefined ? undefined : files.toSession(inSource);
  };
}

function refuseCopyIntoItself(source: TreeLocation, target: TreeLocation): void {
  if (source.tree === target.tree && isWithin(cleanPath(target.path), cleanPath(source.path))) {
    throw new HutchError(`cannot copy ${source.containerPath(source.path)} into itself`);
  }
}

async function toContainer(runtime: Runtime, options: CpOptions, name: string, containerPath: string): Promise<void> {
  const stdin = options.source === '-';
  const hostPath = stdin ? '/dev/stdin' : options.source;
  const cwd = options.cwd ?? process.cwd();
  const container = await findContainer(runtime, name);
  const host = statHost(hostPath, cwd);
  if (!host.found) throw notOnHost(hostPath, host.reason);
  await withContainerFiles(runtime, [container], async ([files]) => {
    const into = files as ContainerFiles;
    const destination = containerDestination(into, name, containerPath, stdin);
    let hostTarget = host.linkTarget;
    if (destination.resolvedToParent && host.isDir && namesContent(hostTarget)) {
      hostTarget = withoutContentSuffix(hostTarget);
    }
    if (stdin && !destination.info.isDir) throw new HutchError(STDIN_TO_FILE);
    if (!stdin && host.isDir && !destination.info.isDir) throw new HutchError(DIR_TO_FILE);
    const target = targetDirectory(destination);
    const writer = new EntryWriter(target.tree, target.path, {
      owner: ownersInto(into, options.archive),
      overwrite: options.overwrite,
      shown: target.containerPath,
    });
    if (stdin) {
      try {
        await copying('copying to container', () => untarInto(options.stdin, writer));
      } catch (error) {
        if (error instanceof Error && error.cause instanceof NotAnArchiveError) {
          throw new HutchError('source must be a (compressed) tar archive when copying from stdin');
        }
        throw error;
      }
      return;
    }
    const rename = (!host.isDir && !destination.info.isDir) || destination.resolvedToParent;
    const top = topName({ isDir: host.isDir, target: hostTarget }, rename ? destination.baseName : undefined);
    // The host side is the user's own: a symlink at SRC is followed (podman copies what it names).
    const real = realpathSync(withoutContentSuffix(hostTarget));
    await copying('copying to container', () => copyTree(new RootedTree('/'), real, writer, { top }));
  });
}

async function fromContainer(runtime: Runtime, options: CpOptions, name: string, containerPath: string): Promise<void> {
  const stdout = options.destination === '-';
  const hostPath = stdout ? '/dev/stdout' : options.destination;
  const cwd = options.cwd ?? process.cwd();
  const container = await findContainer(runtime, name);
  await withContainerFiles(runtime, [container], async ([files]) => {
    const from = files as ContainerFiles;
    const info = statInContainer(from, containerPath);
    if (!info.found) throw notInContainer(containerPath, name, info.reason);
    const read = { skip: from.skip(info.location), ignoreUnreadable: from.running };
    if (stdout) {
      const top = topName({ isDir: info.isDir, target: info.linkTarget }, undefined);
      const owner = from.owner ?? { uid: 0, gid: 0 };
      await copying('copying from container', () =>
        pipeline(tarOfTree(info.location.tree, info.location.path, { ...read, top, owner }), options.stdout, {
          end: false,
        }),
      );
      return;
    }
    let host = statHost(hostPath, cwd);
    let hostBaseName: string;
    let resolvedToParent = false;
    if (!host.found) {
      if (hostPath.endsWith('/')) throw notOnHost(hostPath, host.reason);
      const parent = statHost(posix.dirname(hostPath), cwd);
      if (!parent.found) throw notOnHost(hostPath, host.reason);
      host = parent;
      hostBaseName = baseName(hostPath);
      resolvedToParent = true;
    } else {
      hostBaseName = baseName(host.linkTarget);
    }
    if (!host.isDir && !host.isRegular) {
      throw new HutchError(`invalid destination: "${host.linkTarget}" must be a directory or a regular file`);
    }
    let containerTarget = info.linkTarget;
    if (resolvedToParent && info.isDir && namesContent(containerTarget)) {
      containerTarget = withoutContentSuffix(containerTarget);
    }
    if (info.isDir && !host.isDir) throw new HutchError(DIR_TO_FILE);
    const rename = (!info.isDir && !host.isDir) || resolvedToParent;
    const top = topName({ isDir: info.isDir, target: containerTarget }, rename ? hostBaseName : undefined);
    const dir = host.isDir ? host.linkTarget : posix.dirname(host.linkTarget);
    // The host directory is the tree: what the container holds cannot lead out of it either.
    const writer = new EntryWriter(new RootedTree(dir), '/', { owner: () => undefined, overwrite: options.overwrite });
    await copying('copying to host', () => copyTree(info.location.tree, info.location.path, writer, { ...read, top }));
  });
}

async function betweenContainers(
  runtime: Runtime,
  options: CpOptions,
  source: { name: string; path: string },
  destination: { name: string; path: string },
): Promise<void> {
  const sourceContainer = await findContainer(runtime, source.name);
  const destinationContainer = await findContainer(runtime, destination.name);
  await withContainerFiles(runtime, [sourceContainer, destinationContainer], async ([a, b]) => {
    const [from, into] = [a as ContainerFiles, b as ContainerFiles];
    const info = statInContainer(from, source.path);
    if (!info.found) throw notInContainer(source.path, source.name, info.reason);
    const target = containerDestination(into, destination.name, destination.path, false);
    if (info.isDir && !target.info.isDir) throw new HutchError(DIR_TO_FILE);
    let sourceTarget = info.linkTarget;
    if (target.resolvedToParent && info.isDir && namesContent(sourceTarget)) {
      sourceTarget = withoutContentSuffix(sourceTarget);
    }
    const rename = (!info.isDir && !target.info.isDir) || target.resolvedToParent;
    const top = topName({ isDir: info.isDir, target: sourceTarget }, rename ? target.baseName : undefined);
    const dir = targetDirectory(target);
    refuseCopyIntoItself(info.location, dir);
    const writer = new EntryWriter(dir.tree, dir.path, {
      owner: ownersInto(into, options.archive, from),
      overwrite: options.overwrite,
      shown: dir.containerPath,
    });
    await copying('copying to container', () =>
      copyTree(info.location.tree, info.location.path, writer, {
        top,
        skip: from.skip(info.location),
        ignoreUnreadable: from.running,
      }),
    );
  });
}

export async function cp(options: CpOptions, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const source = parseCpArgument(options.source);
  const destination = parseCpArgument(options.destination);
  if (source.path === '' || destination.path === '') {
    throw new HutchError(
      `invalid arguments ${JSON.stringify(options.source)}, ${JSON.stringify(options.destination)}: you must specify paths`,
    );
  }
  const runtime = await openRuntime(env);
  const sourceName = source.container ?? '';
  const destinationName = destination.container ?? '';
  if (sourceName !== '' && destinationName !== '') {
    await betweenContainers(
      runtime,
      options,
      { name: sourceName, path: source.path },
      { name: destinationName, path: destination.path },
    );
  } else if (sourceName !== '') {
    await fromContainer(runtime, options, sourceName, source.path);
  } else {
    await toContainer(runtime, options, destinationName, destination.path);
  }
}
