/** `hutch untag IMAGE [NAME…]` (`image untag`): takes names off an image, every name when none is given. */
import { HutchError } from '../errors.js';
import { normalizeTag, refNameOf, removeName, updateIndex } from '../image/store/refs.js';
import { ImageNotKnownError } from '../image/store/resolve.js';
import { openUserStore } from '../image/store/store.js';

/** podman's error for a name the image does not have (exit 125). */
export class TagNotKnownError extends HutchError {
  constructor(name: string) {
    super(`${name}: tag not known`, { hint: 'hutch images lists the names each image has' });
    this.name = 'TagNotKnownError';
  }
}

/**
 * Each name (normalized as tag normalizes it) leaves the image, in order; the
 * first the image does not have fails the command, the earlier ones stay
 * removed (podman's). An image left without names stays, nameless.
 */
export async function untagImage(source: string, names: string[], env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const { store } = await openUserStore(env);
  const image = store.resolveImage(source);
  // Every manifest of the image: podman's one image per id.
  const digests = new Set<string>(
    store
      .scan()
      .images.filter((i) => i.id === image.id)
      .map((i) => i.manifestDescriptor.digest),
  );
  const targets = names.length === 0 ? undefined : names.map((n) => normalizeTag(n));
  const edit = (name: string | undefined) =>
    updateIndex(store.indexPath, store.indexLockPath, store.tmpDir, (index) => {
      const mine = index.manifests.filter((e) => digests.has(e.digest));
      if (mine.length === 0) throw new ImageNotKnownError(source);
      const owned = mine.map(refNameOf).filter((n): n is string => n !== undefined);
      if (name !== undefined && !owned.includes(name)) throw new TagNotKnownError(name);
      const doomed = name === undefined ? owned : [name];
      if (doomed.length === 0) return undefined;
      return doomed.reduce((next, n) => removeName(next, n, { keepNameless: true }), index);
    });
  if (targets === undefined) await edit(undefined);
  else for (const name of targets) await edit(name);
}
