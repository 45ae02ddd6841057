/**
 * `hutch import ROOTFS.tar|- [REF]` (`image import`): a root file system tar
 * becomes a one-layer image (src/image/import.ts does the work). A tar on a
 * stream (stdin, `-`) is first copied to a flocked temp file of the store:
 * the import reads the file's head, then the whole. Returns the image id;
 * warnings of the unpacking go to the caller's callback.
 */
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Digest } from '../image/digest.js';
import { importImage, type ImportOptions } from '../image/import.js';
import { openUserStore } from '../image/store/store.js';
import { createTempDir } from '../fs/lock.js';
import { removeTree } from '../fs/remove-tree.js';

export type { ImportOptions };

export async function importTar(
  options: ImportOptions | (Omit<ImportOptions, 'file'> & { stream: Readable }),
  env: NodeJS.ProcessEnv = process.env,
): Promise<Digest> {
  if ('file' in options) return importImage(options, env);
  const { stream, ...rest } = options;
  const { store } = await openUserStore(env);
  const temp = createTempDir(store.tmpDir, 'import-');
  try {
    const file = join(temp.path, 'rootfs.tar');
    await pipeline(stream, createWriteStream(file, { mode: 0o600 }));
    return await importImage({ ...rest, file }, env);
  } finally {
    removeTree(temp.path);
    temp.release();
  }
}
