/**
 * Which image is built on which, as podman's layer tree tells it: an image is
 * the parent of another when the child has all of its layers (diff ids, in
 * order) and all of its history plus at least one more entry, and the child's
 * top layer is the parent's or one above it. That gives `images`' ParentId,
 * dangling (no name, no child) and intermediate (no name, a child) images,
 * and `image tree`'s layers, identified by chain id (each layer with all the
 * layers below it).
 */
import { isDeepStrictEqual } from 'node:util';
import { digestOf, type Digest } from './digest.js';
import type { ResolvedImage } from './store/resolve.js';

/** OCI's ChainID of each layer: the layer with everything below it. */
export function chainIds(diffIds: readonly string[]): Digest[] {
  const chain: Digest[] = [];
  for (const diffId of diffIds) {
    const below = chain.at(-1);
    chain.push(below === undefined ? (diffId as Digest) : digestOf(`${below} ${diffId}`));
  }
  return chain;
}

/** podman's areParentAndChild: the child has the parent's layers and history, and more history. */
export function isParentOf(parent: ResolvedImage, child: ResolvedImage): boolean {
  const p = parent.config.rootfs.diff_ids;
  const c = child.config.rootfs.diff_ids;
  if (p.length > c.length || p.some((d, i) => c[i] !== d)) return false;
  const ph = parent.config.history ?? [];
  const ch = child.config.history ?? [];
  if (ph.length >= ch.length) return false;
  return isDeepStrictEqual(ph, ch.slice(0, ph.length));
}

/** The family relations of the images of a store, computed once for a listing. */
export interface Lineage {
  /** The image (id) this one was built on, if it is in the store. */
  parentOf(image: ResolvedImage): ResolvedImage | undefined;
  /** The images (ids) built directly on this one. */
  childrenOf(image: ResolvedImage): ResolvedImage[];
}

export function lineage(images: readonly ResolvedImage[]): Lineage {
  // One image per id (a store may hold several manifests of one config).
  const byId = new Map<string, ResolvedImage>();
  for (const image of images) if (!byId.has(image.id)) byId.set(image.id, image);
  // Images by their top layer and by the layer below it (chain ids).
  const byTop = new Map<string, ResolvedImage[]>();
  const byBelow = new Map<string, ResolvedImage[]>();
  const add = (map: Map<string, ResolvedImage[]>, key: string | undefined, image: ResolvedImage) => {
    if (key !== undefined) map.set(key, [...(map.get(key) ?? []), image]);
  };
  const chains = new Map<string, Digest[]>();
  for (const image of byId.values()) {
    const chain = chainIds(image.config.rootfs.diff_ids);
    chains.set(image.id, chain);
    add(byTop, chain.at(-1), image);
    add(byBelow, chain.at(-2), image);
  }
  const chainOf = (image: ResolvedImage) => chains.get(image.id) ?? chainIds(image.config.rootfs.diff_ids);
  const at = (map: Map<string, ResolvedImage[]>, key: string | undefined) =>
    key === undefined ? [] : (map.get(key) ?? []);
  return {
    parentOf(child) {
      const chain = chainOf(child);
      if (chain.length === 0) return undefined;
      return [...at(byTop, chain.at(-1)), ...at(byTop, chain.at(-2))].find(
        (p) => p.id !== child.id && isParentOf(p, child),
      );
    },
    childrenOf(parent) {
      const top = chainOf(parent).at(-1);
      if (top === undefined) return [];
      return [...at(byTop, top), ...at(byBelow, top)].filter((c) => c.id !== parent.id && isParentOf(parent, c));
    },
  };
}
