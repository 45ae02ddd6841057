/**
 * `hutch save -o FILE [--format docker-archive|oci-archive] IMAGE…`.
 *
 * docker-archive is what `docker save` and `podman save` write: manifest.json
 * ([{Config, RepoTags, Layers}]), the config as `<hex>.json`, each layer as an
 * uncompressed `<diff id hex>.tar`, and for old loaders a legacy directory per
 * layer (`<id>/layer.tar` as a symlink, `VERSION`, `json`) plus `repositories`.
 * oci-archive is a tar of an OCI image layout whose index.json entries carry the
 * names as `org.opencontainers.image.ref.name`, with the blobs as stored.
 *
 * Every blob is verified as it is read (digest and size; a decompressed layer
 * against its diff id). The archive is written to FILE.tmp, fsynced and renamed,
 * so FILE is either the old file or a whole archive.
 */
import { closeSync, createWriteStream, fsyncSync, openSync, renameSync, rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { pack, type Header, type Pack } from 'tar-stream';
import { HutchError, withContext } from '../../errors.js';
import { digestOf, HashingStream, hexOf, VerifyingStream, type Digest } from '../digest.js';
import { decompressStream } from '../layer/compression.js';
import { layerCompression, MediaType } from '../media.js';
import { RefNameAnnotation, type Descriptor, type Index } from '../oci.js';
import type { ResolvedImage } from '../store/resolve.js';
import { openUserStore, storageError, type ImageStore } from '../store/store.js';

export type ArchiveFormat = 'docker-archive' | 'oci-archive';

export interface SaveOptions {
  images: string[];
  output: string;
  format: ArchiveFormat;
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
  const { store } = await openUserStore(env);
  // Shared: garbage collection must not remove a blob while it is copied.
  const release = await store.writeLock();
  const output = resolve(options.output);
  const temp = `${output}.tmp`;
  let selected: Selected[];
  try {
    selected = select(store, options.images);
  } catch (error) {
    release();
    throw error;
  }
  try {
    const archive = pack();
    const writing = pipeline(archive, createWriteStream(temp, { mode: 0o644 }));
    try {
      if (options.format === 'oci-archive') await writeOciArchive(store, selected, archive);
      else await writeDockerArchive(store, selected, archive);
      archive.finalize();
    } catch (error) {
      archive.destroy(error as Error);
      await writing.catch(() => undefined);
      throw error;
    }
    await writing;
    const fd = openSync(temp, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, output);
  } catch (error) {
    rmSync(temp, { force: true });
    const full = storageError(error, output, `save ${options.output}`);
    throw full !== error ? full : withContext('save', `save ${options.output}`, error);
  } finally {
    release();
  }
}

/** Resolves every image first (an unknown one fails before anything is written); one entry per image. */
function select(store: ImageStore, inputs: string[]): Selected[] {
  const { images, damaged } = store.scan();
  const byId = new Map<string, Selected>();
  for (const input of inputs) {
    const { image, name } = store.findImage(input, images, damaged);
    if ('problem' in image) {
      throw new HutchError(`${input}: the image is damaged: ${image.problem}`, {
        hint: 'run hutch system check --repair',
      });
    }
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

async function writeOciArchive(store: ImageStore, selected: Selected[], archive: Pack): Promise<void> {
  const index: Index = { schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: [] };
  const blobs = new Map<string, number>();
  for (const { image, names } of selected) {
    const { digest, size } = image.manifestDescriptor;
    const entry = (name?: string): Descriptor => ({
      mediaType: image.manifest.mediaType ?? image.manifestDescriptor.mediaType,
      digest,
      size,
      ...(name === undefined ? {} : { annotations: { [RefNameAnnotation]: name } }),
    });
    if (names.length === 0) index.manifests.push(entry());
    for (const name of names) index.manifests.push(entry(name));
    blobs.set(digest, size);
    blobs.set(image.manifest.config.digest, image.manifest.config.size);
    for (const layer of image.manifest.layers) blobs.set(layer.digest, layer.size);
  }
  await addBuffer(archive, 'oci-layout', '{"imageLayoutVersion":"1.0.0"}');
  await addBuffer(archive, 'index.json', JSON.stringify(index));
  const dir = (name: string): EntryHeader => ({ name, mode: 0o755, mtime: EPOCH, uid: 0, gid: 0, type: 'directory' });
  await new Promise<void>((r, j) => archive.entry(dir('blobs/'), (e) => (e ? j(e) : r())));
  await new Promise<void>((r, j) => archive.entry(dir('blobs/sha256/'), (e) => (e ? j(e) : r())));
  for (const [digest, size] of blobs) {
    await addStream(
      archive,
      fileHeader(`blobs/sha256/${hexOf(digest as Digest)}`, size),
      store.blobs.open(digest as Digest, size),
    );
  }
}

// ---------------------------------------------------------------------------
// docker-archive

async function writeDockerArchive(store: ImageStore, selected: Selected[], archive: Pack): Promise<void> {
  const manifest: { Config: string; RepoTags: string[] | null; Layers: string[] }[] = [];
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
    manifest.push({ Config: configName, RepoTags: tags.length === 0 ? null : tags, Layers: layerNames });
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
  const verifier = new VerifyingStream(`layer ${diffId}`, { digest: diffId, size });
  pipeline(uncompressed(), verifier).catch((e: unknown) => verifier.destroy(e as Error));
  await addStream(archive, fileHeader(name, size), verifier);
}
