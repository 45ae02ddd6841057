/**
 * `hutch image prune`: removes dangling images (no name, no image built on
 * them), with --all every image no container uses, narrowed by --filter;
 * again and again while a removal leaves more to remove (podman's loop).
 */
import type { Digest } from '../image/digest.js';
import { compileImageFilters } from '../image/filters.js';
import { refNameOf, updateIndex } from '../image/store/refs.js';
import { openUserStore } from '../image/store/store.js';
import { imageUsers } from '../run/container/users.js';
import { summarize } from './images.js';
import type { RemoveOptions } from './rmi.js';

export interface PruneOptions {
  all?: boolean;
  /** podman's --filter (label=…, until=…, and the keys of images --filter). */
  filters?: string[];
}

/** `hutch image prune [-a] [--filter …]`, with the container store saying which images containers use. */
export async function imagePrune(options: PruneOptions, env: NodeJS.ProcessEnv = process.env): Promise<Digest[]> {
  return pruneImages({ ...options, inUse: await imageUsers(env) }, env);
}

/** Removes what prune selects, then collects garbage. Returns the ids removed. */
export async function pruneImages(
  options: PruneOptions & { inUse?: RemoveOptions['inUse'] },
  env: NodeJS.ProcessEnv = process.env,
): Promise<Digest[]> {
  const { store } = await openUserStore(env);
  const usersOf = (id: Digest) => options.inUse?.usersOf(id) ?? [];
  // podman's own filters: never an image a container uses; dangling ones unless --all.
  const matches = compileImageFilters(
    [...(options.filters ?? []), ...(options.all === true ? [] : ['dangling=true']), 'containers=false'],
    { lookup: (nameOrId) => store.resolveImage(nameOrId), now: new Date() },
  );
  const removed: Digest[] = [];
  for (;;) {
    const doomed = summarize(store.scan().images, { usersOf }).filter(matches);
    if (doomed.length === 0) break;
    const digests = new Set<string>(doomed.map((s) => s.image.manifestDescriptor.digest));
    const gone: Digest[] = [];
    await updateIndex(store.indexPath, store.indexLockPath, store.tmpDir, (index) => {
      // Only what is still as it was seen: a name given meanwhile saves a dangling image.
      const prunable = new Set(
        [...digests].filter(
          (d) => options.all === true || !index.manifests.some((e) => e.digest === d && refNameOf(e) !== undefined),
        ),
      );
      for (const { image } of doomed) if (prunable.has(image.manifestDescriptor.digest)) gone.push(image.id);
      return prunable.size === 0
        ? undefined
        : { ...index, manifests: index.manifests.filter((e) => !prunable.has(e.digest)) };
    });
    if (gone.length === 0) break;
    removed.push(...gone);
  }
  await store.collectGarbage({ wait: true });
  return [...new Set(removed)];
}
