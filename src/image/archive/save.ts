/**
 * `hutch save [-o FILE] [--format docker-archive|oci-archive] [-m] IMAGE…`.
 *
 * docker-archive is what `docker save` and `podman save` write: manifest.json
 * ([{Config, RepoTags, Layers}]), the config as `<hex>.json`, each layer as an
 * uncompressed `<diff id hex>.tar`, and for old loaders a legacy directory per
 * layer (`<id>/layer.tar` as a symlink, `VERSION`, `json`) plus `repositories`.
 * oci-archive is a tar of an OCI image layout whose index.json entries carry the
 * names as `org.opencontainers.image.ref.name`, with the blobs as stored.
 *
 * Every blob is verified as it is read (digest and size; a decompressed layer
 * against its diff id). The archive is written to a temp file beside FILE,
 * fsynced and renamed (fs/atomic-write.ts), so FILE is either the old file or
 * a whole archive; or to a stream the caller gives (stdout).
 *
 * As podman: with multiImage (-m) every image given goes in, a docker-archive
 * only; without, the first image goes in and the other arguments are more
 * names for it (docker-archive) or are ignored (oci-archive).
 */
import { resolve } from 'node:path';
import { PassThrough, Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { pack, type Header, type Pack } from 'tar-stream';
import { HutchError, withContext } from '../../errors.js';
import { digestOf, HashingStream, hexOf, VerifyingStream, type Digest } from '../digest.js';
import { decompressStream } from '../layer/compression.js';
import { layerCompression, layerMediaType, MediaType } from '../media.js';
import { RefNameAnnotation, type Descriptor, type Index } from '../oci.js';
import { normalizeTag } from '../store/refs.js';
import type { ResolvedImage } from '../store/resolve.js';
import { openUserStore, storageError, type ImageStore } from '../store/store.js';
import { writeStreamAtomic } from '../../fs/atomic-write.js';

export type ArchiveFormat = 'docker-archive' | 'oci-archive';

export interface SaveOptions {
  images: string[];
  /** The archive file, or a stream the caller owns (stdout), written to and ended. */
  output: string | Writable;
  format: ArchiveFormat;
  /** podman's -m: every image given goes in (docker-archive only). */
  multiImage?: boolean;
  /** oci-archive: layers as uncompressed tars (podman's --uncompressed), under a manifest that says so. */
  uncompressed?: boolean;
}

/** An image to write, with the names to write it under (the names given; [] when given by id). */
interface Selected {
  image: ResolvedImage;
  names: string[];
}

const EPOCH = new Date(0);

type EntryHeader = Partial<Header> & { name: string };

export async function saveImages(options: SaveOptions, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  if (options.images.length === 0) throw new HutchError('save: give at least one image name or id');
  if (options.multiImage === true && options.format !== 'docker-archive' && options.images.length > 1) {
    throw new HutchError(`unsupported format "${options.format}" for saving multiple images (only docker-archive)`);
  }
  const { store } = await openUserStore(env);
  // Shared: garbage collection must not remove a blob while it is copied.
  const release = await store.writeLock();
  const label = typeof options.output === 'string' ? options.output : 'stdout';
  let selected: Selected[];
  try {
    selected = select(store, options);
  } catch (error) {
    release();
    throw error;
  }
  const fill = async (out: Writable) => {
    const archive = pack();
    const writing = pipeline(archive, out);
    try {
      if (options.format === 'oci-archive') await writeOciArchive(store, selected, archive, options.uncompressed);
      else await writeDockerArchive(store, selected, archive);
      archive.finalize();
    } catch (error) {
      archive.destroy(error as Error);
      await writing.catch(() => undefined);
      throw error;
    }
    await writing;
  };
  try {
    if (typeof options.output === 'string') await writeStreamAtomic(resolve(options.output), fill, { mode: 0o644 });
    else await fill(options.output);
  } catch (error) {
    const full =
      typeof options.output === 'string' ? storageError(error, resolve(options.output), `save ${label}`) : error;
    throw full !== error ? full : withContext('save', `save ${label}`, error);
  } finally {
    release();
  }
}

/**
 * Resolves every image first (an unknown one fails before anything is
 * written); one entry per image, with the names it goes under.
 */
function select(store: ImageStore, options: SaveOptions): Selected[] {
  const { images, damaged } = store.scan();
  const find = (input: string) => {
    const { image, name } = store.findImage(input, images, damaged);
    if ('problem' in image) {
      throw new HutchError(`${input}: the image is damaged: ${image.problem}`, {
        hint: 'run hutch system check --repair',
      });
    }
    return { image, name };
  };
  if (options.multiImage !== true) {
    const [first, ...more] = options.images as [string, ...string[]];
    const { image, name } = find(first);
    const tags = options.format === 'docker-archive' ? more.map((n) => normalizeTag(n)) : [];
    return [{ image, names: [...new Set([...tags, ...(name === undefined ? [] : [name])])] }];
  }
  const byId = new Map<string, Selected>();
  for (const input of options.images) {
    const { image, name } = find(input);
    const entry = byId.get(image.manifestDescriptor.digest) ?? { image, names: [] };
    if (name !== undefined && !entry.names.includes(name)) entry.names.push(name);
    byId.set(image.manifestDescriptor.digest, entry);
  }
  return [...byId.values()];
}

function fileHeader(name: string, size: number): EntryHeader {
  return { name, size, mode: 0o644, mtime: EPOCH, uid: 0, gid: 0, type: 'file' };
}

/** Adds an entry whose content comes from a stream of exactly header.size bytes. */
async function addStream(archive: Pack, header: EntryHeader, source: Readable): Promise<void> {
  await new Promise<void>((resolvePromise, reject) => {
    const entry = archive.entry(header, (error) => (error ? reject(error) : resolvePromise()));
    pipeline(source, entry).catch(reject);
  });
}

async function addBuffer(archive: Pack, name: string, body: Buffer | string): Promise<void> {
  const buffer = Buffer.isBuffer(body) ? body : Buffer.from(body);
  await new Promise<void>((resolvePromise, reject) => {
    archive.entry(fileHeader(name, buffer.length), buffer, (error) => (error ? reject(error) : resolvePromise()));
  });
}

// ---------------------------------------------------------------------------
// oci-archive

async function writeOciArchive(
  store: ImageStore,
  selected: Selected[],
  archive: Pack,
  uncompressed = false,
): Promise<void> {
  const index: Index = { schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: [] };
  const blobs = new Map<string, { size: number; open: () => Readable }>();
  const stored = (digest: Digest, size: number) => ({ size, open: () => store.blobs.open(digest, size) });
  for (const { image, names } of selected) {
    let manifest = { descriptor: image.manifestDescriptor, body: undefined as Buffer | undefined };
    if (uncompressed && image.manifest.layers.some((l) => layerCompression(l.mediaType) !== 'none')) {
      const family = (image.manifest.mediaType ?? image.manifestDescriptor.mediaType) === MediaType.dockerManifest;
      const layers: Descriptor[] = [];
      for (const [i, layer] of image.manifest.layers.entries()) {
        const diffId = image.config.rootfs.diff_ids[i] as Digest;
        const tar = await uncompressedLayer(store, layer, diffId);
        layers.push({ mediaType: layerMediaType('none', family ? 'docker' : 'oci'), digest: diffId, size: tar.size });
        blobs.set(diffId, tar);
      }
      const body = Buffer.from(JSON.stringify({ ...image.manifest, layers }));
      const mediaType = image.manifest.mediaType ?? image.manifestDescriptor.mediaType;
      manifest = { descriptor: { mediaType, digest: digestOf(body), size: body.length }, body };
    } else {
      for (const layer of image.manifest.layers) blobs.set(layer.digest, stored(layer.digest, layer.size));
    }
    const { digest, size } = manifest.descriptor;
    const entry = (name?: string): Descriptor => ({
      mediaType: image.manifest.mediaType ?? image.manifestDescriptor.mediaType,
      digest,
      size,
      ...(name === undefined ? {} : { annotations: { [RefNameAnnotation]: name } }),
    });
    if (names.length === 0) index.manifests.push(entry());
    for (const name of names) index.manifests.push(entry(name));
    const body = manifest.body;
    blobs.set(digest, body === undefined ? stored(digest, size) : { size, open: () => Readable.from([body]) });
    blobs.set(image.manifest.config.digest, stored(image.manifest.config.digest, image.manifest.config.size));
  }
  await addBuffer(archive, 'oci-layout', '{"imageLayoutVersion":"1.0.0"}');
  await addBuffer(archive, 'index.json', JSON.stringify(index));
  const dir = (name: string): EntryHeader => ({ name, mode: 0o755, mtime: EPOCH, uid: 0, gid: 0, type: 'directory' });
  await new Promise<void>((r, j) => archive.entry(dir('blobs/'), (e) => (e ? j(e) : r())));
  await new Promise<void>((r, j) => archive.entry(dir('blobs/sha256/'), (e) => (e ? j(e) : r())));
  for (const [digest, blob] of blobs) {
    await addStream(archive, fileHeader(`blobs/sha256/${hexOf(digest as Digest)}`, blob.size), blob.open());
  }
}

// ---------------------------------------------------------------------------
// docker-archive

async function writeDockerArchive(store: ImageStore, selected: Selected[], archive: Pack): Promise<void> {
  const manifest: { Config: string; RepoTags: string[]; Layers: string[] }[] = [];
  const repositories: Record<string, Record<string, string>> = {};
  const written = new Set<string>();
  for (const { image, names } of selected) {
    const configName = `${hexOf(image.id)}.json`;
    if (!written.has(configName)) {
      await addBuffer(archive, configName, await store.blobs.readBuffer(image.id, 64 * 1024 * 1024));
      written.add(configName);
    }
    const layerNames: string[] = [];
    let parent = '';
    for (const [i, layer] of image.manifest.layers.entries()) {
      const diffId = image.config.rootfs.diff_ids[i] as Digest;
      const name = `${hexOf(diffId)}.tar`;
      if (!written.has(name)) {
        await writeLayerTar(store, archive, name, layer, diffId);
        written.add(name);
      }
      layerNames.push(name);
      // The legacy layout: a directory per layer, named by a chain of ids.
      const legacyId = hexOf(digestOf(`${parent} ${hexOf(diffId)}`));
      if (!written.has(legacyId)) {
        await writeLegacyLayer(archive, legacyId, parent, name, image, i === image.manifest.layers.length - 1);
        written.add(legacyId);
      }
      parent = legacyId;
    }
    const tags = names.filter((n) => !n.includes('@'));
    manifest.push({ Config: configName, RepoTags: tags, Layers: layerNames });
    for (const name of tags) {
      const colon = name.lastIndexOf(':');
      const repo = name.slice(0, colon);
      (repositories[repo] ??= {})[name.slice(colon + 1)] = parent;
    }
  }
  await addBuffer(archive, 'manifest.json', JSON.stringify(manifest));
  await addBuffer(archive, 'repositories', JSON.stringify(repositories));
}

async function writeLegacyLayer(
  archive: Pack,
  id: string,
  parent: string,
  layerFile: string,
  image: ResolvedImage,
  top: boolean,
): Promise<void> {
  const json: Record<string, unknown> = { id, ...(parent === '' ? {} : { parent }) };
  if (top)
    Object.assign(json, {
      created: image.config.created,
      architecture: image.config.architecture,
      os: image.config.os,
      config: image.config.config ?? {},
    });
  else json.created = EPOCH.toISOString();
  await addBuffer(archive, `${id}/VERSION`, '1.0');
  await addBuffer(archive, `${id}/json`, JSON.stringify(json));
  await new Promise<void>((r, j) =>
    archive.entry(
      {
        name: `${id}/layer.tar`,
        type: 'symlink',
        linkname: `../${layerFile}`,
        mode: 0o777,
        mtime: EPOCH,
        uid: 0,
        gid: 0,
      },
      (e) => (e ? j(e) : r()),
    ),
  );
}

/** The uncompressed layer, verified against its diff id; its size must be known before its header. */
async function writeLayerTar(
  store: ImageStore,
  archive: Pack,
  name: string,
  layer: Descriptor,
  diffId: Digest,
): Promise<void> {
  const tar = await uncompressedLayer(store, layer, diffId);
  await addStream(archive, fileHeader(name, tar.size), tar.open());
}

/** A layer as an uncompressed tar: its size (measured and checked when the store does not know it) and a verified stream. */
async function uncompressedLayer(
  store: ImageStore,
  layer: Descriptor,
  diffId: Digest,
): Promise<{ size: number; open: () => Readable }> {
  const compression = layerCompression(layer.mediaType);
  if (compression === undefined)
    throw new HutchError(`layer ${layer.digest} has media type ${layer.mediaType}, which hutch cannot unpack`);
  const uncompressed = () => {
    const out = new PassThrough();
    pipeline(store.blobs.open(layer.digest, layer.size), decompressStream(compression), out).catch((e: unknown) =>
      out.destroy(e as Error),
    );
    return out;
  };
  let size = compression === 'none' ? layer.size : store.layers.info(diffId).size;
  if (size === undefined) {
    // Not recorded when it was unpacked: measure it (and check it) first.
    const hashing = new HashingStream();
    hashing.resume();
    await pipeline(uncompressed(), hashing);
    if (hashing.digest() !== diffId) throw new HutchError(`layer ${layer.digest} does not unpack to ${diffId}`);
    size = hashing.size;
  }
  const known = size;
  return {
    size: known,
    open: () => {
      const verifier = new VerifyingStream(`layer ${diffId}`, { digest: diffId, size: known });
      pipeline(uncompressed(), verifier).catch((e: unknown) => verifier.destroy(e as Error));
      return verifier;
    },
  };
}
