/**
 * `hutch import ROOTFS.tar [REF]` (`image import`): a root file system tar
 * becomes a one-layer image (src/image/import.ts does the work). Returns the
 * image id; warnings of the unpacking go to the caller's callback.
 */
import type { Digest } from '../image/digest.js';
import { importImage, type ImportOptions } from '../image/import.js';

export type { ImportOptions };

export async function importTar(options: ImportOptions, env: NodeJS.ProcessEnv = process.env): Promise<Digest> {
  return importImage(options, env);
}
