/** `hutch image prune`: removes nameless images (or every image no container uses). */
import type { Digest } from '../image/digest.js';
import { openUserStore } from '../image/store/store.js';
import { refNameOf, updateIndex } from '../image/store/refs.js';
import { imageUsers } from '../run/container/prune.js';
import type { RemoveOptions } from './rmi.js';

/** `hutch image prune [-a]`, with the container store saying which images containers use. */
export async function imagePrune(options: { all?: boolean }, env: NodeJS.ProcessEnv = process.env): Promise<Digest[]> {
  return pruneImages({ ...options, inUse: await imageUsers(env) }, env);
}

/** Removes nameless images (every image with all), then collects garbage. Returns the ids removed. */
export async function pruneImages(
  options: { all?: boolean; inUse?: RemoveOptions['inUse'] },
  env: NodeJS.ProcessEnv = process.env,
): Promise<Digest[]> {
  const { store } = await openUserStore(env);
  const { images } = store.scan();
  // Images that containers were made from stay, named or not (podman's prune).
  const doomed = images.filter(
    (image) =>
      (options.all === true || image.names.length === 0) && (options.inUse?.usersOf(image.id).length ?? 0) === 0,
  );
  const removed: Digest[] = [];
  if (doomed.length > 0) {
    const digests = new Set<string>(doomed.map((i) => i.manifestDescriptor.digest));
    await updateIndex(store.indexPath, store.indexLockPath, store.tmpDir, (index) => {
      // Only what is still as it was seen: a name given meanwhile saves an image.
      const prunable = new Set(
        [...digests].filter(
          (d) => options.all === true || !index.manifests.some((e) => e.digest === d && refNameOf(e) !== undefined),
        ),
      );
      for (const image of doomed) if (prunable.has(image.manifestDescriptor.digest)) removed.push(image.id);
      return { ...index, manifests: index.manifests.filter((e) => !prunable.has(e.digest)) };
    });
  }
  await store.collectGarbage({ wait: true });
  return [...new Set(removed)];
}
