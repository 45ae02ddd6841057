/**
 * --squash and --squash-all, as podman build has them: the layers a build
 * added (--squash) or all of the image's layers (--squash-all) become one.
 * The unpacked layers are in overlay's format, so they are merged in it,
 * bottom first: a whiteout removes what the layers below put there, an
 * opaque directory replaces the directory below. Squashed onto base layers,
 * whiteouts and opaque markers are kept (they still hide the base's files);
 * squashed into a layer of its own, there is nothing below to hide and they
 * are dropped. Hard links within the squashed layers stay hard links.
 */
import {
  chmodSync,
  constants,
  copyFileSync,
  linkSync,
  lchownSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  readdirSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  utimesSync,
} from 'node:fs';
import { join } from 'node:path';
import { HutchError } from '../errors.js';
import { markOpaque, opaqueXattr, writeWhiteout } from '../image/layer/whiteout.js';
import { native } from '../native.js';
import type { BuildSession } from './build-session.js';
import type { ImageState } from './state.js';
import { layerPaths, StepWorkspace } from './workspace.js';

export interface MergeOptions {
  userXattrs: boolean;
  /**
   * The layers the result sits on (first layer first). A whiteout is kept
   * where one of them has the path (elsewhere overlay would list it as a
   * name that cannot be opened), and opaque markers are kept; with none,
   * both are dropped.
   */
  base: readonly string[];
}

/** Applies each layer directory (first layer first) onto `into`, an empty directory. */
export function mergeLayers(layers: readonly string[], into: string, options: MergeOptions): void {
  const links = new Map<string, string>();
  for (const layer of layers) applyDirectory(layer, into, '', { ...options, links });
}

function inBase(base: readonly string[], rel: string): boolean {
  return base.some((layer) => {
    const stat = lstatSync(join(layer, rel), { throwIfNoEntry: false });
    return stat !== undefined && !(stat.isCharacterDevice() && stat.rdev === 0);
  });
}

function isOpaque(path: string, userXattrs: boolean): boolean {
  for (const name of [opaqueXattr(userXattrs), 'user.overlay.opaque', 'trusted.overlay.opaque']) {
    try {
      if (native.getxattr(path, name)?.toString() === 'y') return true;
    } catch {
      // not readable here: not ours to honour
    }
  }
  return false;
}

/** Where each multiply linked file (dev:ino) was first copied to. */
type Walk = MergeOptions & { links: Map<string, string> };

function applyDirectory(source: string, target: string, rel: string, options: Walk): void {
  for (const name of readdirSync(source)) {
    const from = join(source, name);
    const to = join(target, name);
    const path = rel === '' ? name : `${rel}/${name}`;
    const stat = lstatSync(from);
    const existing = lstatSync(to, { throwIfNoEntry: false });
    if (stat.isCharacterDevice() && stat.rdev === 0) {
      rmSync(to, { recursive: true, force: true });
      if (inBase(options.base, path)) writeWhiteout(to);
      continue;
    }
    if (stat.isDirectory()) {
      const opaque = isOpaque(from, options.userXattrs);
      if (existing !== undefined && (!existing.isDirectory() || opaque)) rmSync(to, { recursive: true, force: true });
      if (existing === undefined || !existing.isDirectory() || opaque) mkdirSync(to);
      lchownSync(to, stat.uid, stat.gid);
      chmodSync(to, stat.mode & 0o7777);
      if (opaque && options.base.length > 0) markOpaque(to, options.userXattrs);
      applyDirectory(from, to, path, options);
      utimesSync(to, stat.atime, stat.mtime);
      continue;
    }
    if (existing !== undefined) rmSync(to, { recursive: true, force: true });
    const first = stat.nlink > 1 ? options.links.get(`${stat.dev}:${stat.ino}`) : undefined;
    if (stat.isFile() && first !== undefined && lstatSync(first, { throwIfNoEntry: false }) !== undefined) {
      linkSync(first, to);
    } else if (stat.isFile()) {
      if (stat.nlink > 1) options.links.set(`${stat.dev}:${stat.ino}`, to);
      copyFileSync(from, to);
      lchownSync(to, stat.uid, stat.gid);
      chmodSync(to, stat.mode & 0o7777);
      utimesSync(to, stat.atime, stat.mtime);
    } else if (stat.isSymbolicLink()) {
      symlinkSync(readlinkSync(from), to);
      lchownSync(to, stat.uid, stat.gid);
      lutimesSync(to, stat.atime, stat.mtime);
    } else if (stat.isFIFO()) {
      native.mknod(to, constants.S_IFIFO | (stat.mode & 0o7777), 0, 0);
      lchownSync(to, stat.uid, stat.gid);
      lutimesSync(to, stat.atime, stat.mtime);
    } else {
      throw new HutchError(`cannot squash ${from}: device nodes and sockets in a layer are not supported by --squash`, {
        hint: 'build without --squash',
      });
    }
  }
}

/**
 * The state with its new layers (all of them with `all`) merged into one.
 * History keeps every entry; those of the squashed layers but the last are
 * marked empty_layer, so history and diff ids still pair up.
 */
export async function squashState(session: BuildSession, state: ImageState, all: boolean): Promise<ImageState> {
  const keep = all ? 0 : state.baseLayers;
  const squashed = state.layers.slice(keep);
  if (squashed.length <= 1 && !(all && state.layers.length > 1)) return state;
  const workspace = StepWorkspace.create(session.store, session.driver, session.rootless, []);
  try {
    mkdirSync(workspace.layout.upper, { mode: 0o755 });
    mergeLayers(layerPaths(session.store, squashed), workspace.layout.upper, {
      userXattrs: session.rootless,
      base: layerPaths(session.store, state.layers.slice(0, keep)),
    });
    const layer = await workspace.commit(session.store, session.options.timestamp);
    let remaining = squashed.length;
    let skip = keep;
    const history = state.history.map((entry) => {
      if (entry.empty_layer === true) return entry;
      if (skip > 0) {
        skip--;
        return entry;
      }
      remaining--;
      return remaining === 0 ? entry : { ...entry, empty_layer: true };
    });
    return {
      ...state,
      layers: [...state.layers.slice(0, keep), { diffId: layer.diffId, blob: layer.blob }],
      history,
    };
  } finally {
    await workspace.dispose();
  }
}
