/** `hutch image inspect`: podman's object for each image (src/image/images.ts inspectJson). */
import { HutchError } from '../errors.js';
import { inspectJson } from '../image/images.js';
import { openUserStore } from '../image/store/store.js';

/** `hutch image inspect IMAGE…`: podman's objects; unknown images fail the whole command, as podman does. */
export async function inspectImages(
  inputs: string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<Record<string, unknown>[]> {
  if (inputs.length === 0) throw new HutchError('inspect: give at least one image name or id');
  const { store } = await openUserStore(env);
  return inputs.map((input) => inspectJson(store.resolveImage(input)));
}
