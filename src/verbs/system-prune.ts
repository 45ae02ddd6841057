/**
 * `hutch system prune`: stopped containers, networks no container uses,
 * (with volumes) volumes no container uses, dangling images (with all: every
 * image no container uses) and the dangling build cache (with all: the whole
 * build cache), in podman's order. What it reclaimed is the store's size
 * before less after.
 */
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Digest } from '../image/digest.js';
import { openUserStore, type ImageStore } from '../image/store/store.js';
import { ifExists } from '../fs/missing.js';
import { treeSize } from '../fs/tree-size.js';
import { pruneContainers } from './container-prune.js';
import { imagePrune } from './image-prune.js';
import { networkPrune } from './network-prune.js';
import { volumePrune } from './volume-prune.js';

export interface SystemPruneOptions {
  /** Every image no container uses and the whole build cache, not only dangling ones. */
  all?: boolean;
  /** Volumes no container uses too. */
  volumes?: boolean;
  /** podman's --filter (label=…, until=…): hutch applies it to the images. */
  filters?: string[];
}

export interface SystemPruneReport {
  containers: string[];
  /** `NAME: why` for a container left. */
  warnings: string[];
  volumes: string[];
  images: Digest[];
  networks: string[];
  /** Bytes the store holds less than before. */
  reclaimed: number;
}

export async function systemPrune(
  options: SystemPruneOptions,
  env: NodeJS.ProcessEnv = process.env,
): Promise<SystemPruneReport> {
  const { store } = await openUserStore(env);
  const storage = store.storageDir;
  const before = treeSize(storage);
  const containers = await pruneContainers(env);
  const networks = await networkPrune();
  const volumes = options.volumes === true ? ((await volumePrune({ filters: [] })) ?? []) : [];
  pruneBuildCache(store, options.all === true);
  const images = await imagePrune({ all: options.all === true, filters: options.filters ?? [] }, env);
  return {
    containers: containers.removed,
    warnings: containers.warnings,
    volumes,
    images,
    networks,
    reclaimed: Math.max(0, before - treeSize(storage)),
  };
}

/**
 * The build cache's entries: with all, every one (and the file hashes it
 * keeps); otherwise those whose layer no image has (podman's dangling build
 * cache). Garbage collection, which image prune runs, then frees their layers.
 */
export function pruneBuildCache(store: ImageStore, all: boolean): void {
  const used = new Set<string>(store.scan().images.flatMap((i) => i.config.rootfs.diff_ids));
  for (const name of ifExists(() => readdirSync(store.buildCacheDir)) ?? []) {
    const path = join(store.buildCacheDir, name);
    if (all) {
      rmSync(path, { recursive: true, force: true });
      continue;
    }
    if (!name.endsWith('.json')) continue;
    let diffId: unknown;
    try {
      diffId = (JSON.parse(ifExists(() => readFileSync(path, 'utf8')) ?? '{}') as { diffId?: unknown }).diffId;
    } catch {
      // A garbled entry is a miss for the build (cache.ts): nothing to keep.
    }
    if (typeof diffId !== 'string' || !used.has(diffId)) rmSync(path, { force: true });
  }
}
