/**
 * The layer cache: one small JSON file per filesystem-changing step,
 * `<storage>/build-cache/<key>.json`, naming the layer the step made. The key
 * hashes the parent (the chain of base and steps before), the instruction
 * with its arguments and environment resolved, and the content hash of what
 * COPY/ADD read. Entries are written as soon as a step's layer is in the
 * store, so a failed build keeps what its completed steps made; the store's
 * garbage collection keeps what the entries name (ImageStore.reachable).
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Descriptor } from '../image/oci.js';
import type { ImageStore } from '../image/store/store.js';
import type { LayerRef } from './state.js';
import { writeFileAtomic } from '../fs/atomic-write.js';
import { ifExists } from '../fs/missing.js';

/** A step's cache entry: its layer (none for a step that changed no file) and when it was first made. */
export interface CacheEntry {
  layer: LayerRef | undefined;
  /**
   * The history time of the step: reused with the layer, so that a build
   * whose every step is cached gives the same image (the same id) again.
   */
  created: string;
}

export class BuildCache {
  constructor(private readonly store: ImageStore) {}

  private path(key: string): string {
    return join(this.store.buildCacheDir, `${key}.json`);
  }

  /** The entry of a step, when it has one whose layer (blob and unpacked) is still in the store. */
  lookup(key: string): CacheEntry | undefined {
    let entry: { diffId?: unknown; blob?: Descriptor; created?: unknown };
    // No entry is a miss, and so is a garbled one; an unreadable one (EACCES) throws.
    const text = ifExists(() => readFileSync(this.path(key), 'utf8'));
    if (text === undefined) return undefined;
    try {
      entry = JSON.parse(text) as typeof entry;
    } catch {
      return undefined;
    }
    const { diffId, blob, created } = entry;
    if (typeof created !== 'string') return undefined;
    if (diffId === undefined) return { layer: undefined, created };
    if (typeof diffId !== 'string' || blob === undefined || typeof blob.digest !== 'string') return undefined;
    const layer = { diffId: diffId as LayerRef['diffId'], blob };
    if (!this.store.layers.has(layer.diffId) || this.store.blobs.size(blob.digest) !== blob.size) return undefined;
    return { layer, created };
  }

  /** Records a step (atomically: temp file + rename). */
  record(key: string, entry: CacheEntry): void {
    mkdirSync(this.store.buildCacheDir, { recursive: true, mode: 0o700 });
    const body =
      entry.layer === undefined
        ? { created: entry.created }
        : { diffId: entry.layer.diffId, blob: entry.layer.blob, created: entry.created };
    writeFileAtomic(this.path(key), `${JSON.stringify(body)}\n`);
  }
}
