/**
 * A build step's changes as a layer: the overlay upper directory is the diff
 * (no scan of the tree below it). Its tar (whiteouts and opaque directories
 * in OCI form) is hashed for the diff id and gzipped into a blob while it is
 * written; the upper directory itself, already in overlay's own format, then
 * becomes the unpacked layer by a rename.
 */
import { renameSync, rmSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { HashingStream, type Digest } from '../image/digest.js';
import { compressStream } from '../image/layer/compression.js';
import { diffLayer } from '../image/layer/diff.js';
import { MediaType } from '../image/media.js';
import type { Descriptor } from '../image/oci.js';
import type { ImageStore } from '../image/store/store.js';

export interface CommittedLayer {
  diffId: Digest;
  blob: Descriptor;
  /** The unpacked layer, usable as an overlay lower from now on. */
  path: string;
}

export async function commitUpper(
  store: ImageStore,
  upper: string,
  options: { userXattrs: boolean; timestamp?: Date | undefined; skipEmpty?: string[] },
): Promise<CommittedLayer> {
  const hashing = new HashingStream();
  const gzip = compressStream('gzip');
  const tar = diffLayer(upper, {
    userXattrs: options.userXattrs,
    ...(options.timestamp === undefined ? {} : { timestamp: options.timestamp }),
    ...(options.skipEmpty === undefined ? {} : { skipEmpty: options.skipEmpty }),
  });
  const stored = store.blobs.write(gzip);
  await pipeline(tar, hashing, gzip).catch((error: unknown) => {
    gzip.destroy(error as Error);
    throw error;
  });
  const blob = await stored;
  const diffId = hashing.digest();
  const path = await store.layers.ensure(diffId, async (dir) => {
    rmSync(dir, { recursive: true, force: true });
    renameSync(upper, dir);
    return {};
  });
  // Another build made the same layer first: ours is not needed.
  rmSync(upper, { recursive: true, force: true });
  return { diffId, blob: { mediaType: MediaType.ociLayerGzip, digest: blob.digest, size: blob.size }, path };
}
