/**
 * `hutch image tree IMAGE [--whatrequires]`: the image's layers, bottom
 * first, each with the tags of the images whose top layer it is; with
 * whatrequires, the layers built on the image's top layer by every image of
 * the store. Layers are named by chain id (the layer with those below it).
 */
import { tagOf } from '../image/store/refs.js';
import type { Digest } from '../image/digest.js';
import { chainIds } from '../image/lineage.js';
import type { ResolvedImage } from '../image/store/resolve.js';
import { openUserStore } from '../image/store/store.js';

export interface TreeLayer {
  id: Digest;
  size: number;
  /** Tagged names of the images whose top layer this is. */
  topOf: string[];
  /** Layers directly on top of this one (whatrequires only). */
  children: TreeLayer[];
}

export interface ImageTree {
  id: Digest;
  tags: string[];
  size: number;
  /** Without whatrequires: the image's layers, bottom first. With it: the image's top layer, holding its descendants. */
  layers: TreeLayer[];
}

export async function imageTree(
  input: string,
  options: { whatRequires?: boolean } = {},
  env: NodeJS.ProcessEnv = process.env,
): Promise<ImageTree> {
  const { store } = await openUserStore(env);
  const image = store.resolveImage(input);
  const images = store.scan().images;
  const sizes = new Map<string, number>();
  for (const candidate of images) {
    candidate.config.rootfs.diff_ids.forEach((diffId, i) => {
      const known = store.layers.info(diffId).size;
      sizes.set(diffId, typeof known === 'number' ? known : (candidate.manifest.layers[i]?.size ?? 0));
    });
  }
  return buildTree(image, images, (diffId) => sizes.get(diffId) ?? 0, options.whatRequires === true);
}

export function buildTree(
  image: ResolvedImage,
  images: readonly ResolvedImage[],
  sizeOf: (diffId: Digest) => number,
  whatRequires: boolean,
): ImageTree {
  // Every layer of the store: its size, its parent, the images it tops.
  const nodes = new Map<string, { diffId: Digest; parent: string | undefined; topOf: string[] }>();
  for (const candidate of images) {
    const diffIds = candidate.config.rootfs.diff_ids;
    const chain = chainIds(diffIds);
    chain.forEach((id, i) => {
      if (!nodes.has(id)) nodes.set(id, { diffId: diffIds[i] as Digest, parent: chain[i - 1], topOf: [] });
    });
    const top = chain.at(-1);
    if (top !== undefined) {
      const node = nodes.get(top);
      for (const name of candidate.names.filter((n) => tagOf(n) !== undefined)) {
        if (node !== undefined && !node.topOf.includes(name)) node.topOf.push(name);
      }
    }
  }
  const layerOf = (id: string, withChildren: boolean): TreeLayer => {
    const node = nodes.get(id);
    const children = withChildren
      ? [...nodes.entries()].filter(([, n]) => n.parent === id).map(([childId]) => layerOf(childId, true))
      : [];
    return {
      id: id as Digest,
      size: node === undefined ? 0 : sizeOf(node.diffId),
      topOf: node?.topOf ?? [],
      children,
    };
  };
  const chain = chainIds(image.config.rootfs.diff_ids);
  const top = chain.at(-1);
  const layers = whatRequires ? (top === undefined ? [] : [layerOf(top, true)]) : chain.map((id) => layerOf(id, false));
  return { id: image.id, tags: image.names.filter((n) => tagOf(n) !== undefined), size: image.size, layers };
}
