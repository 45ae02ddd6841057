/**
 * `hutch history IMAGE` (`image history`): the image config's history, newest
 * first, with each entry's layer size and, where an image of the store has
 * that layer on top, its id (podman's libimage History).
 */
import type { Digest } from '../image/digest.js';
import { chainIds } from '../image/lineage.js';
import type { ResolvedImage } from '../image/store/resolve.js';
import { openUserStore, type ImageStore } from '../image/store/store.js';

export interface HistoryEntry {
  /** The image whose top layer this entry's layer is (each id once); undefined is podman's <missing>. */
  id: Digest | undefined;
  created: Date | undefined;
  createdBy: string;
  /** The uncompressed size of the layer the entry made; 0 for an empty layer. */
  size: number;
  comment: string;
}

export async function imageHistory(input: string, env: NodeJS.ProcessEnv = process.env): Promise<HistoryEntry[]> {
  const { store } = await openUserStore(env);
  const image = store.resolveImage(input);
  return historyOf(image, store.scan().images, (diffId, i) => layerSize(store, image, diffId, i));
}

function layerSize(store: ImageStore, image: ResolvedImage, diffId: Digest, index: number): number {
  const known = store.layers.info(diffId).size;
  return typeof known === 'number' ? known : (image.manifest.layers[index]?.size ?? 0);
}

/**
 * Walks the history from the newest entry down, and the layers with it: an
 * entry that made a layer (not empty_layer) takes that layer's size, and the
 * walk moves to the layer below (staying on the bottom one, as podman does).
 */
export function historyOf(
  image: ResolvedImage,
  images: readonly ResolvedImage[],
  sizeOf: (diffId: Digest, index: number) => number,
): HistoryEntry[] {
  const diffIds = image.config.rootfs.diff_ids;
  const chain = chainIds(diffIds);
  // Images by top layer; the image itself first, so its own entry carries its id.
  const byTop = new Map<string, Digest[]>();
  for (const candidate of [image, ...images]) {
    const top = chainIds(candidate.config.rootfs.diff_ids).at(-1);
    if (top === undefined) continue;
    const ids = byTop.get(top) ?? [];
    if (!ids.includes(candidate.id)) ids.push(candidate.id);
    byTop.set(top, ids);
  }
  const used = new Set<Digest>();
  const entries: HistoryEntry[] = [];
  let layer = diffIds.length - 1;
  const history = image.config.history ?? [];
  for (let x = history.length - 1; x >= 0; x--) {
    const h = history[x] ?? {};
    const created = h.created === undefined ? undefined : new Date(h.created);
    const entry: HistoryEntry = {
      id: undefined,
      created: created === undefined || Number.isNaN(created.getTime()) ? undefined : created,
      createdBy: h.created_by ?? '',
      size: 0,
      comment: h.comment ?? '',
    };
    if (layer >= 0) {
      if (h.empty_layer !== true) entry.size = sizeOf(diffIds[layer] as Digest, layer);
      const id = byTop.get(chain[layer] as string)?.[0];
      if (id !== undefined && !used.has(id)) {
        entry.id = id;
        used.add(id);
      }
      if (h.empty_layer !== true && layer > 0) layer--;
    }
    entries.push(entry);
  }
  return entries;
}
