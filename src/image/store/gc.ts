/**
 * Garbage collection of the store: what index.json (and the build cache)
 * reaches is kept; unreached blobs, unpacked layers no image lists, strays
 * of layers/ and leftovers of dead commands go. ImageStore.collectGarbage
 * (store.ts) runs it.
 */
import { readdirSync, readFileSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { hexOf, type Digest } from '../digest.js';
import { MAX_CONFIG_BYTES, MAX_MANIFEST_BYTES, parseImageConfig, parseManifestDocument } from '../manifest.js';
import type { Index } from '../oci.js';
import type { BlobStore } from './blobs.js';
import type { LayerStore } from './layers.js';
import { reapLeftovers } from './leftovers.js';
import { acquireLock, tryLock, type TempEntry } from '../../fs/lock.js';
import { removeTree } from '../../fs/remove-tree.js';
import { ifExists } from '../../fs/missing.js';
import { withContext } from '../../errors.js';

export interface GarbageReport {
  blobs: Digest[];
  layers: Digest[];
  /** Leftovers of interrupted commands removed from tmp/ and layers/. */
  leftovers: string[];
}

/** The parts of the store garbage collection works on (an ImageStore has them). */
export interface GcStore {
  readonly blobs: BlobStore;
  readonly layers: LayerStore;
  readonly tmpDir: string;
  readonly locksDir: string;
  readonly buildCacheDir: string;
  readonly storeLockPath: string;
  readonly indexLockPath: string;
  readIndex(): Index;
  detach(path: string): TempEntry | undefined;
}

/**
 * Removes what no image uses: blobs not reached from index.json, unpacked
 * layers no image's config lists, and leftovers of interrupted commands in
 * tmp/ and layers/. Takes the store lock exclusively (no writer is then
 * between writing a blob and committing it) and decides under the index
 * lock. With wait false, returns undefined at once when a writer is busy.
 * When some image cannot be read, it removes no blobs or layers (they might be
 * that image's): `system check --repair` deals with it first.
 */
export async function collectGarbage(
  store: GcStore,
  options: { wait?: boolean } = {},
): Promise<GarbageReport | undefined> {
  const release = options.wait === false ? tryLock(store.storeLockPath) : await acquireLock(store.storeLockPath);
  if (release === undefined) return undefined;
  try {
    return await collectGarbageLocked(store);
  } finally {
    release();
  }
}

/** collectGarbage's work; the caller holds the store lock exclusively. */
export async function collectGarbageLocked(store: GcStore): Promise<GarbageReport> {
  const report: GarbageReport = { blobs: [], layers: [], leftovers: [] };
  const doomed: TempEntry[] = [];
  report.leftovers.push(...reapLeftovers(store.tmpDir).removed);
  const releaseIndex = await acquireLock(store.indexLockPath);
  try {
    let reach;
    try {
      reach = reachable(store, store.readIndex());
    } catch (error) {
      // Nothing is removed: what cannot be read might name any of it.
      throw withContext('gc', 'collect unused blobs and layers', error);
    }
    if (reach !== undefined) {
      for (const digest of store.blobs.list()) {
        if (reach.blobs.has(digest)) continue;
        store.blobs.remove(digest);
        report.blobs.push(digest);
      }
      for (const diffId of store.layers.list()) {
        if (reach.layers.has(diffId)) continue;
        const entry = store.detach(join(store.layers.root, hexOf(diffId)));
        if (entry !== undefined) doomed.push(entry);
        report.layers.push(diffId);
      }
      for (const stray of store.layers.strays()) {
        const entry = store.detach(stray);
        if (entry !== undefined) doomed.push(entry);
        report.leftovers.push(stray);
      }
    }
  } finally {
    releaseIndex();
  }
  for (const entry of doomed) {
    try {
      removeTree(entry.path);
    } finally {
      entry.release();
    }
  }
  removeStaleLayerLocks(store);
  return report;
}

/** What index.json reaches: undefined when some manifest or config cannot be read. */
export function reachable(store: GcStore, index: Index): { blobs: Set<string>; layers: Set<string> } | undefined {
  const blobs = new Set<string>();
  const layers = new Set<string>();
  for (const entry of index.manifests) {
    if (blobs.has(entry.digest)) continue;
    blobs.add(entry.digest);
    try {
      const body = store.blobs.readBufferSync(entry.digest, MAX_MANIFEST_BYTES);
      const parsed = parseManifestDocument(body, entry.mediaType, `manifest ${entry.digest}`);
      if (parsed.kind !== 'manifest') return undefined;
      blobs.add(parsed.manifest.config.digest);
      for (const layer of parsed.manifest.layers) blobs.add(layer.digest);
      const config = parseImageConfig(
        store.blobs.readBufferSync(parsed.manifest.config.digest, MAX_CONFIG_BYTES),
        parsed.manifest.layers.length,
        `config ${parsed.manifest.config.digest}`,
      );
      for (const diffId of config.rootfs.diff_ids) layers.add(diffId);
    } catch {
      // A manifest or config that cannot be read: nothing is collected this time.
      return undefined;
    }
  }
  // An unreadable cache directory or entry throws: it could name any layer.
  for (const name of readdirIfExists(store.buildCacheDir)) {
    if (!name.endsWith('.json')) continue;
    const text = ifExists(() => readFileSync(join(store.buildCacheDir, name), 'utf8'));
    if (text === undefined) continue;
    let entry: { diffId?: unknown; blob?: { digest?: unknown } };
    try {
      entry = JSON.parse(text) as typeof entry;
    } catch {
      // A garbled entry keeps nothing: the build treats it as a miss.
      continue;
    }
    if (typeof entry.diffId === 'string') layers.add(entry.diffId);
    if (typeof entry.blob?.digest === 'string') blobs.add(entry.blob.digest);
  }
  return { blobs, layers };
}

/** Lock files of layers that are not there (only while nobody unpacks: store lock exclusive). */
function removeStaleLayerLocks(store: GcStore): void {
  for (const name of readdirIfExists(store.locksDir)) {
    const match = /^layer-([a-f0-9]{64})\.lock$/.exec(name);
    if (match === null || store.layers.has(`sha256:${match[1]}`)) continue;
    const release = tryLock(join(store.locksDir, name));
    if (release === undefined) continue;
    try {
      unlinkSync(join(store.locksDir, name));
    } finally {
      release();
    }
  }
}

/** The names in dir, sorted; none when dir does not exist (an unreadable dir throws). */
function readdirIfExists(dir: string): string[] {
  return (ifExists(() => readdirSync(dir)) ?? []).sort();
}
