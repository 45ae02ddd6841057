/**
 * Where a filesystem-changing step works: a flocked temp directory under the
 * store's tmp/ (so garbage collection leaves it alone while the build runs)
 * holding the overlay's upper, work and merged directories. The upper
 * directory becomes the step's layer (commitUpper); everything else goes
 * when the step ends, whether it succeeded or not.
 */
import { lstatSync, lutimesSync, readdirSync, readFileSync, rmdirSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { Digest } from '../image/digest.js';
import type { ImageStore } from '../image/store/store.js';
import { createTempDir, type TempEntry } from '../fs/lock.js';
import type { RootfsDriver, RootfsLayout } from '../run/rootfs/index.js';
import { commitUpper, type CommittedLayer } from './layer.js';
import { removeTree } from '../fs/remove-tree.js';

/**
 * Paths a RUN's container gets as mount points (prepareRootfs makes them in
 * the rootfs, so in the upper directory): left out of the layer while empty,
 * as buildah leaves them out.
 */
export const MOUNT_POINTS = [
  '/etc/hosts',
  '/etc/hostname',
  '/etc/resolv.conf',
  '/proc',
  '/sys',
  '/sys/fs/cgroup',
  '/dev',
  '/dev/pts',
  '/dev/shm',
  '/dev/mqueue',
  '/dev/null',
  '/dev/zero',
  '/dev/full',
  '/dev/random',
  '/dev/urandom',
  '/dev/tty',
  '/dev/console',
  '/dev/ptmx',
  '/dev/pipes',
  '/run',
];

export class StepWorkspace {
  private mounted = false;
  /** Made on first use: a step answered by the cache never touches the disk for a workspace. */
  private entry: TempEntry | undefined;

  private constructor(
    private readonly tmpDir: string,
    private readonly driver: RootfsDriver,
    private readonly rootless: boolean,
    private readonly lowers: string[],
  ) {}

  static create(store: ImageStore, driver: RootfsDriver, rootless: boolean, lowers: string[]): StepWorkspace {
    return new StepWorkspace(store.tmpDir, driver, rootless, lowers);
  }

  private get temp(): TempEntry {
    this.entry ??= createTempDir(this.tmpDir, 'build-');
    return this.entry;
  }

  get dir(): string {
    return this.temp.path;
  }

  get layout(): RootfsLayout {
    const dir = this.temp.path;
    return { lowers: this.lowers, upper: join(dir, 'upper'), work: join(dir, 'work'), target: join(dir, 'merged') };
  }

  /** The merged view, mounted at layout.target. */
  async mount(options: { readonly?: boolean } = {}): Promise<string> {
    await this.driver.mount(this.layout, { rootless: this.rootless, ...options });
    this.mounted = true;
    return this.layout.target;
  }

  async unmount(): Promise<void> {
    if (!this.mounted) return;
    this.mounted = false;
    await this.driver.unmount(this.layout.target);
  }

  /**
   * Removes the mount points a RUN's container left in the upper directory
   * while they are still empty (not whiteouts: those are character devices),
   * so the unpacked layer holds what its tar holds.
   */
  removeMountPoints(paths: readonly string[]): void {
    const deepestFirst = [...paths].sort((a, b) => b.split('/').length - a.split('/').length);
    for (const path of deepestFirst) {
      const full = join(this.layout.upper, path);
      const stat = lstatSync(full, { throwIfNoEntry: false });
      if (stat === undefined) continue;
      try {
        if (stat.isFile() && stat.size === 0) unlinkSync(full);
        else if (stat.isDirectory()) rmdirSync(full);
      } catch {
        // Not empty: the step put something there, and it stays.
      }
    }
  }

  /**
   * The upper directory as a layer of the store (renamed into it). With a
   * timestamp, newer mtimes are clamped in the directory too, so the unpacked
   * layer shows what its tar holds.
   */
  commit(store: ImageStore, timestamp: Date | undefined, skipEmpty: string[] = []): Promise<CommittedLayer> {
    if (timestamp !== undefined) clampMtimes(this.layout.upper, timestamp);
    return commitUpper(store, this.layout.upper, { userXattrs: this.rootless, timestamp, skipEmpty });
  }

  /** Unmounts and removes everything left; never throws. */
  async dispose(): Promise<void> {
    const entry = this.entry;
    if (entry === undefined) return;
    await this.unmount().catch(() => undefined);
    try {
      removeTree(entry.path);
    } catch {
      // Left for garbage collection: the flock goes with us, so it is a leftover then.
    }
    entry.release();
  }
}

/**
 * A file of the image made of these layers (first layer first), read from the
 * layer directories without mounting them: the topmost layer that has the
 * path wins; an overlay whiteout there means it is gone. null when absent.
 */
export function readLayeredFile(lowers: readonly string[], path: string): string | null {
  for (let i = lowers.length - 1; i >= 0; i--) {
    const full = join(lowers[i] as string, path);
    let stat;
    try {
      stat = lstatSync(full);
    } catch {
      continue;
    }
    if (stat.isCharacterDevice() && stat.rdev === 0) return null;
    if (!stat.isFile()) return null;
    return readFileSync(full, 'utf8');
  }
  return null;
}

export function layerPaths(store: ImageStore, layers: readonly { diffId: Digest }[]): string[] {
  return layers.map((l) => store.layers.path(l.diffId));
}

/** Sets every mtime under dir (dir included) that is later than `to` to `to`; links are not followed. */
function clampMtimes(dir: string, to: Date): void {
  const limit = to.getTime();
  const visit = (path: string): void => {
    const stat = lstatSync(path);
    if (stat.isDirectory()) for (const name of readdirSync(path)) visit(join(path, name));
    // After the children: setting theirs does not touch the directory's, but creating them did.
    if (stat.mtimeMs > limit) lutimesSync(path, to, to);
  };
  visit(dir);
}
