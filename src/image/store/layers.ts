/**
 * Unpacked layers: `layers/<hex of diff id>/diff/`, each unpacked once and
 * shared by every image that has the layer (they become overlay lower dirs).
 * A layer directory appears by one rename of a complete directory, so its
 * presence means it is whole; `info.json` beside `diff/` records what the
 * unpacker measured (the uncompressed tar size: an image's size).
 */
import { chmodSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { HutchError, withContext } from '../../errors.js';
import { algorithmOf, DigestMismatchError, HashingStream, hexOf, isDigest, shortId, type Digest } from '../digest.js';
import { extractLayer, type ExtractStats } from '../layer/extract.js';
import { decompressStream } from '../layer/compression.js';
import type { Compression } from '../media.js';
import { removeTree } from '../../fs/remove-tree.js';
import { discardStream, fsyncDir } from './blobs.js';
import { acquireLock, createTempDir, moveIntoTemp } from '../../fs/lock.js';
import { SpaceGuard } from './reserve.js';

/** What `ensure`'s fill may report; kept in info.json. */
export interface LayerInfo {
  /** Bytes of the uncompressed layer tar. */
  size?: number;
}

const HEX = /^[a-f0-9]{64}$/;

/** The directory of short symlinks the overlay driver names lower dirs by. */
export const SHORT_LINKS = 'l';

export class LayerStore {
  /**
   * @param root the layers/ directory
   * @param tmpDir a directory on the same file system, for atomic renames
   * @param locksDir where the per-layer lock files live
   */
  constructor(
    readonly root: string,
    private readonly tmpDir: string,
    private readonly locksDir: string,
  ) {}

  private dirOf(diffId: Digest): string {
    if (!isDigest(diffId) || algorithmOf(diffId) !== 'sha256') {
      throw new HutchError(`invalid layer diff id ${JSON.stringify(String(diffId).slice(0, 80))}`);
    }
    return join(this.root, hexOf(diffId));
  }

  /** The unpacked tree (the overlay lower dir), whether or not it is there. */
  path(diffId: Digest): string {
    return join(this.dirOf(diffId), 'diff');
  }

  has(diffId: Digest): boolean {
    try {
      return statSync(this.path(diffId)).isDirectory();
    } catch {
      return false;
    }
  }

  /** What was recorded when the layer was unpacked; {} when nothing was. */
  info(diffId: Digest): LayerInfo {
    try {
      const value = JSON.parse(readFileSync(join(this.dirOf(diffId), 'info.json'), 'utf8')) as LayerInfo;
      return typeof value === 'object' && value !== null ? value : {};
    } catch {
      return {};
    }
  }

  /** The per-layer lock file: held while a layer is unpacked. */
  lockPath(diffId: Digest): string {
    return join(this.locksDir, `layer-${hexOf(diffId)}.lock`);
  }

  /**
   * Makes sure the layer is unpacked, once per diff id. Under a per-layer lock
   * (flock, so other processes too), fill(dir) unpacks into a fresh `diff`
   * directory inside a flocked temp dir under tmp/, which is then renamed into
   * place in one step; concurrent callers wait for the lock and reuse the
   * result. On failure the temp dir is removed and nothing is left in layers/.
   * Returns the diff directory. The caller must hold the store's write lock
   * (shared), so that garbage collection cannot run meanwhile.
   */
  async ensure(diffId: Digest, fill: (dir: string) => Promise<LayerInfo | void>): Promise<string> {
    const target = this.dirOf(diffId);
    if (this.has(diffId)) return this.path(diffId);
    const release = await acquireLock(this.lockPath(diffId));
    try {
      if (this.has(diffId)) return this.path(diffId);
      const temp = createTempDir(this.tmpDir, `layer-${shortId(diffId)}-`);
      try {
        const diff = join(temp.path, 'diff');
        mkdirSync(diff, { mode: 0o755 });
        const info = (await fill(diff)) ?? {};
        writeFileSync(join(temp.path, 'info.json'), `${JSON.stringify({ diffId, ...info })}\n`);
        chmodSync(temp.path, 0o755);
        // A directory without diff/ (from outside tampering) would make the rename fail.
        this.discard(target);
        renameSync(temp.path, target);
        fsyncDir(this.root);
      } catch (error) {
        removeTree(temp.path);
        throw error;
      } finally {
        temp.release();
      }
      return this.path(diffId);
    } finally {
      release();
    }
  }

  /** Removes the layer: renamed out of layers/ at once, then deleted. */
  remove(diffId: Digest): void {
    this.discard(this.dirOf(diffId));
  }

  /** Every complete layer (a directory named by a diff id, with diff/ in it). */
  list(): Digest[] {
    return this.entries()
      .filter((name) => HEX.test(name))
      .map((name): Digest => `sha256:${name}`)
      .filter((diffId) => this.has(diffId));
  }

  /** What is in layers/ that is not a complete layer: for `system check`. */
  strays(): string[] {
    return (
      this.entries()
        // `l/` holds the overlay driver's short links to layers (src/run/rootfs/overlay.ts).
        .filter((name) => name !== SHORT_LINKS && (!HEX.test(name) || !this.has(`sha256:${name}`)))
        .map((name) => join(this.root, name))
    );
  }

  /** Removes a path under layers/ (a layer or a stray): renamed into tmp/ (flocked meanwhile), then deleted. */
  discard(path: string): void {
    const doomed = moveIntoTemp(path, this.tmpDir, 'gc-');
    if (doomed === undefined) return;
    try {
      removeTree(doomed.path);
    } finally {
      doomed.release();
    }
  }

  private entries(): string[] {
    try {
      return readdirSync(this.root).sort();
    } catch {
      return [];
    }
  }
}

export interface UnpackOptions {
  /** true when rootless: overlay metadata in user.* xattrs. */
  userXattrs: boolean;
  onWarning?: (message: string) => void;
  /** The blob's size when known: a large gzip blob is inflated by pigz (decompressStream). */
  compressedSize?: number;
  /**
   * The command's free space accounting (shared by the layers it unpacks in
   * parallel); one for the store's file system and process.env when undefined.
   */
  space?: SpaceGuard;
}

/**
 * Unpacks a (compressed) layer blob into the store, once per diff id:
 * decompress -> verify that the uncompressed bytes hash to diffId (and end
 * there) -> extractLayer, inside layers.ensure. A mismatch rejects with
 * DigestMismatchError and leaves nothing in layers/; so does a layer that
 * would eat into the disk reserve (DiskReserveError). When the layer is already
 * unpacked, source is destroyed unread. Returns the diff directory.
 */
export async function unpackLayer(
  store: { layers: LayerStore },
  diffId: Digest,
  source: Readable,
  compression: Compression,
  options: UnpackOptions,
): Promise<string> {
  if (store.layers.has(diffId)) {
    discardStream(source);
    return store.layers.path(diffId);
  }
  let used = false;
  const path = await store.layers.ensure(diffId, async (dir) => {
    used = true;
    return { size: (await unpackInto(dir, diffId, source, compression, options)).size };
  });
  if (!used) discardStream(source);
  return path;
}

async function unpackInto(
  dir: string,
  diffId: Digest,
  source: Readable,
  compression: Compression,
  options: UnpackOptions,
): Promise<ExtractStats & { size: number }> {
  const what = `layer ${diffId}`;
  let space;
  try {
    space = (options.space ?? new SpaceGuard(dir)).meter(`unpacking ${what}`);
  } catch (error) {
    discardStream(source);
    throw error;
  }
  const decompress = decompressStream(compression, { size: options.compressedSize });
  const hashing = new HashingStream(algorithmOf(diffId));
  const feeding = pipeline(source, decompress, hashing);
  const extracting = extractLayer(hashing, dir, {
    userXattrs: options.userXattrs,
    space,
    ...(options.onWarning === undefined ? {} : { onWarning: options.onWarning }),
  });
  const [fed, extracted] = await Promise.allSettled([feeding, extracting]);
  if (fed.status === 'rejected' && fed.reason instanceof DigestMismatchError) throw fed.reason;
  if (extracted.status === 'rejected') throw extracted.reason;
  if (fed.status === 'rejected') throw withContext('layer', `decompress ${what} (${compression})`, fed.reason);
  // The extractor reads to the end of its input, so every byte went through the hash.
  const actual = hashing.digest();
  if (actual !== diffId)
    throw new DigestMismatchError(what, { digest: diffId }, { digest: actual, size: hashing.size });
  return { ...extracted.value, size: hashing.size };
}
