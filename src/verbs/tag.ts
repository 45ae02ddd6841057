/** `hutch tag` (`image tag`): more names for an image. */
import { HutchError } from '../errors.js';
import { ImageNotKnownError, openUserStore } from '../image/store/store.js';
import { normalizeTag, setName, updateIndex } from '../image/store/refs.js';

/** `hutch tag IMAGE NAME…`: each name (normalized, tag-form) now points at the image; a name moves if used. */
export async function tagImage(source: string, names: string[], env: NodeJS.ProcessEnv = process.env): Promise<void> {
  if (names.length === 0) throw new HutchError('tag: give at least one new name for the image');
  const targets = names.map((n) => normalizeTag(n));
  const { store } = await openUserStore(env);
  const image = store.resolveImage(source);
  const digest = image.manifestDescriptor.digest;
  await updateIndex(store.indexPath, store.indexLockPath, store.tmpDir, (index) => {
    // rmi may have removed it since it was resolved: check again under the lock.
    if (!index.manifests.some((e) => e.digest === digest)) throw new ImageNotKnownError(source);
    return targets.reduce((next, name) => setName(next, name, image.manifestDescriptor), index);
  });
}
