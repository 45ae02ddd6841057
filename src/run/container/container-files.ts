/**
 * A container's files as `hutch cp` reaches them, the way podman does
 * (libpod's container_copy and container_path_resolution):
 *
 * - running: the tree is the container's own root, reached through
 *   /proc/PID/root of its first process, so its tmpfs mounts, volumes and
 *   binds are seen as the container sees them;
 * - created, exited: the rootfs (mounted for the task), except that a path
 *   under a volume's or a bind mount's destination is the source directory's
 *   (the longest destination wins, so a volume inside a volume is found).
 *
 * Either way each path is then resolved inside the tree it falls in
 * (src/run/copy/tree.ts), so no symlink of the container leads out of it.
 * Containers are locked (in id order) for the whole task.
 */
import { closeSync, constants, openSync, statSync } from 'node:fs';
import { join, posix } from 'node:path';
import { HutchError } from '../../errors.js';
import { cleanPath, O_PATH } from '../../fs/in-root.js';
import { processStartTime } from '../../host/proc.js';
import { RootedTree } from '../copy/tree.js';
import type { Runtime } from './lifecycle.js';
import { withContainerRootfs } from './mounted-rootfs.js';
import { containerIdMaps, containerUser } from './spec-builder.js';
import type { IdMapping } from './spec.js';
import type { Container } from './store.js';

export interface Ids {
  uid: number;
  gid: number;
}

/** Where a container path lives: a tree and the path in it. */
export interface TreeLocation {
  tree: RootedTree;
  /** The path in the tree. */
  path: string;
  /** The container's path for a path of this tree (for messages and names). */
  containerPath: (treePath: string) => string;
}

export interface ContainerFiles {
  container: Container;
  running: boolean;
  /** Where relative container paths start (podman: the container's working directory, else "/"). */
  workdir: string;
  /** The container's user, ids as the session has them: what copied files get (cp --archive). */
  owner: Ids | undefined;
  /** Container ids as the session has them; undefined when its user namespace does not map them. */
  toSession(ids: Ids): Ids | undefined;
  /** Session ids as the container has them. */
  fromSession(ids: Ids): Ids | undefined;
  /** The tree holding an absolute, clean container path. */
  locate(containerPath: string): TreeLocation;
  /** Paths of a tree podman's copies leave out: the container's /dev, /proc and /sys. */
  skip(location: TreeLocation): (treePath: string) => boolean;
}

function mapId(maps: IdMapping[], id: number, from: 'inside' | 'outside'): number | undefined {
  const to = from === 'inside' ? 'outside' : 'inside';
  for (const m of maps) if (id >= m[from] && id < m[from] + m.count) return m[to] + (id - m[from]);
  return undefined;
}

function mapIds(maps: { uidMap: IdMapping[]; gidMap: IdMapping[] } | undefined, ids: Ids, from: 'inside' | 'outside') {
  if (maps === undefined) return ids;
  const uid = mapId(maps.uidMap, ids.uid, from);
  const gid = mapId(maps.gidMap, ids.gid, from);
  return uid === undefined || gid === undefined ? undefined : { uid, gid };
}

/** The container's root as its first process sees it, held by an fd (close it) so a reused pid cannot swap it. */
function openProcessRoot(container: Container): number {
  const { pid, pidStartTime } = container.state;
  let fd: number;
  try {
    fd = openSync(`/proc/${pid}/root`, O_PATH | constants.O_DIRECTORY);
  } catch (error) {
    throw new HutchError(`container ${container.config.name} is not running any more`, { cause: error });
  }
  if (processStartTime(pid) !== pidStartTime) {
    closeSync(fd);
    throw new HutchError(`container ${container.config.name} is not running any more`);
  }
  return fd;
}

/** The binds a stopped container's paths may fall in: its volumes and -v/--mount binds, then its /etc files. */
function bindsOf(container: Container): { destination: string; source: string }[] {
  const binds = container.config.options.mounts
    .filter((m) => m.type === 'bind')
    .map((m) => ({ destination: cleanPath(m.destination), source: m.source }));
  for (const name of ['hosts', 'hostname', 'resolv.conf']) {
    const source = join(container.dir, 'userdata', name);
    if (statSync(source, { throwIfNoEntry: false })?.isFile() === true) {
      binds.push({ destination: `/etc/${name}`, source });
    }
  }
  return binds;
}

const LEFT_OUT = new Set(['/dev', '/proc', '/sys']);

function openContainerFiles(
  runtime: Runtime,
  container: Container,
  rootfs: string,
): ContainerFiles & { close(): void } {
  const running = container.state.status === 'running';
  const rootFd = running ? openProcessRoot(container) : undefined;
  try {
    const maps = containerIdMaps(container.config.options, runtime.identity);
    const user = containerUser(container, runtime.identity, rootfs);
    const { options, imageConfig } = container.config;
    const rootTree = new RootedTree(rootFd === undefined ? rootfs : `/proc/self/fd/${rootFd}`);
    const binds = running ? [] : bindsOf(container);
    const locate = (containerPath: string): TreeLocation => {
      const path = cleanPath(containerPath);
      for (let search = path; ; search = posix.dirname(search)) {
        // The last mount of a destination is the one the container sees.
        const bind = binds.findLast((b) => b.destination === search);
        if (bind !== undefined) {
          const rest = path.slice(search === '/' ? 0 : search.length);
          if (statSync(bind.source, { throwIfNoEntry: false })?.isDirectory() !== false) {
            const base = search;
            return {
              tree: new RootedTree(bind.source),
              path: cleanPath(rest),
              containerPath: (p) => cleanPath(`${base}/${p}`),
            };
          }
          // A file bound in: its directory is the tree, the file the only path that leads anywhere.
          const name = posix.basename(bind.source);
          const at = search;
          return {
            tree: new RootedTree(posix.dirname(bind.source)),
            path: cleanPath(`/${name}${rest}`),
            containerPath: (p) => cleanPath(p).replace(`/${name}`, at),
          };
        }
        if (search === '/') break;
      }
      return { tree: rootTree, path, containerPath: (p) => cleanPath(p) };
    };
    return {
      container,
      running,
      workdir: cleanPath(options.workdir ?? (imageConfig.WorkingDir || '/')),
      owner: mapIds(maps, { uid: user.uid, gid: user.gid }, 'inside'),
      toSession: (ids) => mapIds(maps, ids, 'inside'),
      fromSession: (ids) => mapIds(maps, ids, 'outside'),
      locate,
      skip: (location) => (treePath) => LEFT_OUT.has(location.containerPath(treePath)),
      close: () => {
        if (rootFd !== undefined) closeSync(rootFd);
      },
    };
  } catch (error) {
    if (rootFd !== undefined) closeSync(rootFd);
    throw error;
  }
}

/**
 * Runs fn with the files of each container (the same container twice is
 * opened once), each locked and, when stopped, its rootfs mounted until fn
 * settles.
 */
export async function withContainerFiles<T>(
  runtime: Runtime,
  containers: Container[],
  fn: (files: ContainerFiles[]) => Promise<T> | T,
): Promise<T> {
  const ids = [...new Set(containers.map((c) => c.config.id))].sort();
  const opened = new Map<string, ContainerFiles>();
  const open = async (i: number): Promise<T> => {
    const id = ids[i];
    if (id === undefined) return fn(containers.map((c) => opened.get(c.config.id) as ContainerFiles));
    const container = containers.find((c) => c.config.id === id) as Container;
    return withContainerRootfs(runtime, container, async (rootfs, current) => {
      const files = openContainerFiles(runtime, current, rootfs);
      opened.set(id, files);
      try {
        return await open(i + 1);
      } finally {
        files.close();
      }
    });
  };
  return open(0);
}
