/** `hutch image exists IMAGE`: whether the store has the image (exit 0 or 1, nothing printed). */
import { ImageNotKnownError } from '../image/store/resolve.js';
import { openUserStore } from '../image/store/store.js';

export async function imageExists(nameOrId: string, env: NodeJS.ProcessEnv = process.env): Promise<boolean> {
  const { store } = await openUserStore(env);
  try {
    // A damaged image exists too: rmi can remove it.
    const { images, damaged } = store.scan();
    store.findImage(nameOrId, images, damaged);
    return true;
  } catch (error) {
    if (error instanceof ImageNotKnownError) return false;
    throw error;
  }
}
