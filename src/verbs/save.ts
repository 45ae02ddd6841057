/** `hutch save` (`image save`): images into a docker-archive or oci-archive file (src/image/archive/save.ts). */
import { saveImages, type SaveOptions } from '../image/archive/save.js';

export type { SaveOptions };

export async function save(options: SaveOptions, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  await saveImages(options, env);
}
