/**
 * The layer cache: one small JSON file per filesystem-changing step,
 * `<storage>/build-cache/<key>.json`, naming the layer the step made. The key
 * hashes the parent (the chain of base and steps before), the instruction
 * with its arguments and environment resolved, and the content hash of what
 * COPY/ADD read. Entries are written as soon as a step's layer is in the
 * store, so a failed build keeps what its completed steps made; the store's
 * garbage collection keeps what the entries name (ImageStore.reachable).
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Descriptor } from '../image/oci.js';
import type { ImageStore } from '../image/store/store.js';
import type { LayerRef } from './state.js';

export class BuildCache {
  constructor(private readonly store: ImageStore) {}

  private path(key: string): string {
    return join(this.store.buildCacheDir, `${key}.json`);
  }

  /**
   * The cached layer of a step, when its blob and unpacked layer are still in
   * the store; 'empty' for a step that changed nothing (a WORKDIR that existed).
   */
  lookup(key: string): LayerRef | 'empty' | undefined {
    let entry: { diffId?: unknown; blob?: Descriptor; empty?: unknown };
    try {
      entry = JSON.parse(readFileSync(this.path(key), 'utf8')) as typeof entry;
    } catch {
      return undefined;
    }
    if (entry.empty === true) return 'empty';
    const { diffId, blob } = entry;
    if (typeof diffId !== 'string' || blob === undefined || typeof blob.digest !== 'string') return undefined;
    const layer = { diffId: diffId as LayerRef['diffId'], blob };
    if (!this.store.layers.has(layer.diffId) || this.store.blobs.size(blob.digest) !== blob.size) return undefined;
    return layer;
  }

  /** Records a step's layer (atomically: temp file + rename). */
  record(key: string, layer: LayerRef | 'empty'): void {
    mkdirSync(this.store.buildCacheDir, { recursive: true, mode: 0o700 });
    const temp = join(this.store.buildCacheDir, `.${key}.${process.pid}.tmp`);
    const body = layer === 'empty' ? { empty: true } : { diffId: layer.diffId, blob: layer.blob };
    writeFileSync(temp, `${JSON.stringify(body)}\n`);
    renameSync(temp, this.path(key));
  }
}
