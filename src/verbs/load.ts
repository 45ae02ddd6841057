/**
 * `hutch load` (`image load`): the images of a docker-archive or oci-archive,
 * from a file or a stream the caller gives (src/image/archive/load.ts).
 * Returns the names loaded, for `Loaded image: NAME`.
 */
import { loadImages, type LoadSource } from '../image/archive/load.js';

export type { LoadSource };

export async function load(source: LoadSource, env: NodeJS.ProcessEnv = process.env): Promise<string[]> {
  return loadImages(source, env);
}
