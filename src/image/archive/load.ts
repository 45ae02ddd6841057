/**
 * `hutch load [-i FILE]`: images from a docker-archive (what `docker save`
 * and `podman save` write: manifest.json, configs, layer tars, maybe legacy
 * symlinks; Docker ≥ 25 keeps the files under blobs/sha256/ and adds an OCI
 * layout, and its layers may be compressed) or an oci-archive (a tar of an OCI
 * image layout). The archive itself may be gzip or zstd compressed.
 *
 * The archive is unpacked, file by file under cleaned names, into a flocked
 * temp dir of the store (symlinks and hard links between its files are only
 * recorded); then every blob is verified (digest and size, each layer against
 * its diff id while it is unpacked) on its way into the store, and each image
 * is committed once whole. A failure leaves no image half-loaded.
 */
import { createReadStream, createWriteStream, mkdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, posix } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { extract } from 'tar-stream';
import { HutchError, messageOf, withContext } from '../../errors.js';
import { digestOf, hexOf, isDigest, type Digest } from '../digest.js';
import { decompressStream, detectCompression } from '../layer/compression.js';
import { MAX_CONFIG_BYTES, MAX_MANIFEST_BYTES, parseImageConfig, parseManifestDocument } from '../manifest.js';
import { isIndexType, layerCompression, layerMediaType, MediaType, type Compression } from '../media.js';
import { hostPlatform, RefNameAnnotation, type Descriptor, type Manifest } from '../oci.js';
import { selectManifest } from '../platform.js';
import { formatReference, LOCALHOST, parseReference } from '../reference.js';
import { unpackLayer } from '../store/layers.js';
import { createTempDir } from '../../fs/lock.js';
import { ENTRY_COST, meterStream, SpaceGuard, type SpaceMeter } from '../store/reserve.js';
import { openUserStore, storageError, type ImageStore } from '../store/store.js';
import { removeTree } from '../../fs/remove-tree.js';
import { readHead } from '../../fs/read-head.js';

/** A file, a stream (stdin), or an http(s) URL to download (podman's `load -i URL`). */
export type LoadSource = { file: string } | { stdin: Readable } | { url: string };

/** podman's refusal of what is neither a docker-archive nor an oci-archive (its first words, which scripts match). */
export class NotAnArchiveError extends HutchError {
  constructor(detail: string, cause?: unknown) {
    super(`payload does not match any of the supported image formats: ${detail}`, {
      hint: 'give a file written by hutch save, podman save, docker save or skopeo copy … oci-archive:FILE',
      cause,
    });
    this.name = 'NotAnArchiveError';
  }
}

/** The body of an http(s) URL, as a stream. */
async function download(url: string): Promise<Readable> {
  let response: Response;
  try {
    response = await fetch(url);
  } catch (error) {
    throw withContext('load', `download ${url}`, (error as Error & { cause?: unknown }).cause ?? error);
  }
  if (!response.ok || response.body === null) {
    throw new HutchError(`download ${url}: ${response.status} ${response.statusText}`);
  }
  return Readable.fromWeb(response.body as import('node:stream/web').ReadableStream<Uint8Array>);
}

/** containerd's (and Docker ≥ 25's) annotation with the full image name. */
const ContainerdNameAnnotation = 'io.containerd.image.name';

/** Loads every image of the archive; returns what `Loaded image:` lines name (a name, or sha256:ID when nameless). */
export async function loadImages(source: LoadSource, env: NodeJS.ProcessEnv = process.env): Promise<string[]> {
  const label = 'file' in source ? source.file : 'url' in source ? source.url : 'stdin';
  if ('file' in source) {
    try {
      if (!statSync(source.file).isFile()) throw new HutchError(`load ${source.file}: not a regular file`);
    } catch (error) {
      if (error instanceof HutchError) throw error;
      throw withContext('load', `load ${source.file}`, error);
    }
  }
  const { store, identity } = await openUserStore(env);
  const release = await store.writeLock();
  const temp = createTempDir(store.tmpDir, 'load-');
  try {
    // The unpacked archive, the blobs and the layers all stay above the disk reserve.
    const space = new SpaceGuard(store.storageDir, env);
    const input =
      'file' in source ? createReadStream(source.file) : 'url' in source ? await download(source.url) : source.stdin;
    let archive: Archive;
    try {
      archive = await unpackArchive(input, join(temp.path, 'archive'), space.meter('unpacking the archive'));
    } catch (error) {
      if (storageError(error, store.storageDir, '') !== error) throw error;
      throw new NotAnArchiveError(`not a tar archive: ${messageOf(error)}`, error);
    }
    const options = { userXattrs: !identity.root, space };
    // podman tries oci-archive before docker-archive: a Docker ≥ 25 archive, which has both, loads
    // under the full names of its index (io.containerd.image.name), not the short RepoTags.
    if (archive.resolve('index.json') !== undefined) return await loadOciArchive(store, archive, options);
    if (archive.resolve('manifest.json') !== undefined) return await loadDockerArchive(store, archive, options);
    throw new NotAnArchiveError('it has neither manifest.json (docker-archive) nor index.json (oci-archive)');
  } catch (error) {
    if (error instanceof NotAnArchiveError) throw error;
    const full = storageError(error, store.storageDir, `load ${label}`);
    throw full !== error ? full : withContext('load', `load ${label}`, error);
  } finally {
    removeTree(temp.path);
    temp.release();
    release();
    // What a failed load stored (its first layers, say), or a manifest a name
    // moved away from, goes now if no other writer is busy.
    await store.collectGarbage({ wait: false }).catch(() => undefined);
  }
}

// ---------------------------------------------------------------------------
// The unpacked archive

interface Archive {
  /** The file an archive name stands for (following the archive's own links), or undefined. */
  resolve(name: string): string | undefined;
}

/** An archive name, cleaned; undefined for one that is absolute or climbs out (it is skipped). */
function cleanName(name: string): string | undefined {
  if (name.includes('\0')) return undefined;
  const normal = posix.normalize(name.replace(/^\.\/+/, ''));
  if (normal.startsWith('/') || normal === '..' || normal.startsWith('../')) return undefined;
  return normal.replace(/\/+$/, '').replace(/^\.$/, '');
}

/** Peeks at the first bytes of a stream without consuming them. */
async function peek(stream: Readable, length: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let have = 0;
  while (have < length) {
    const chunk = stream.read() as Buffer | null;
    if (chunk !== null) {
      chunks.push(chunk);
      have += chunk.length;
      continue;
    }
    if (stream.readableEnded || stream.destroyed) break;
    const ended = await new Promise<boolean>((resolvePromise, reject) => {
      const cleanup = () => {
        stream.off('readable', onReadable);
        stream.off('end', onEnd);
        stream.off('error', onError);
      };
      const onReadable = () => (cleanup(), resolvePromise(false));
      const onEnd = () => (cleanup(), resolvePromise(true));
      const onError = (error: Error) => (cleanup(), reject(error));
      stream.on('readable', onReadable);
      stream.on('end', onEnd);
      stream.on('error', onError);
    });
    if (ended) break;
  }
  const head = Buffer.concat(chunks);
  if (head.length > 0) stream.unshift(head);
  return head;
}

async function unpackArchive(input: Readable, dir: string, meter: SpaceMeter): Promise<Archive> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const head = await peek(input, 8);
  const compression = detectCompression(head);
  const links = new Map<string, string>();
  const parser = extract();
  const feeding = pipeline(input, decompressStream(compression), parser);
  const reading = (async () => {
    for await (const entry of parser) {
      const name = cleanName(entry.header.name);
      const type = entry.header.type;
      if (
        name === undefined ||
        name === '' ||
        (type !== 'file' && type !== 'directory' && type !== 'contiguous-file')
      ) {
        if (name !== undefined && name !== '' && type === 'symlink' && entry.header.linkname) {
          const target = cleanName(posix.join(posix.dirname(name), entry.header.linkname));
          if (target !== undefined && target !== '') links.set(name, target);
        } else if (name !== undefined && name !== '' && type === 'link' && entry.header.linkname) {
          const target = cleanName(entry.header.linkname);
          if (target !== undefined && target !== '') links.set(name, target);
        }
        entry.resume();
        continue;
      }
      const path = join(dir, name);
      meter.use(ENTRY_COST);
      if (type === 'directory') {
        mkdirSync(path, { recursive: true, mode: 0o700 });
        entry.resume();
        continue;
      }
      mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
      await pipeline(entry, meterStream(meter), createWriteStream(path, { mode: 0o600 }));
    }
  })();
  const [fed, read] = await Promise.allSettled([feeding, reading]);
  if (read.status === 'rejected') throw withContext('load', 'read the archive', read.reason);
  if (fed.status === 'rejected') throw withContext('load', 'read the archive', fed.reason);
  return {
    resolve(name: string): string | undefined {
      let current = cleanName(name);
      for (let hops = 0; current !== undefined && current !== '' && hops < 16; hops++) {
        const path = join(dir, current);
        try {
          if (statSync(path).isFile()) return path;
        } catch {
          // not a file: maybe a link
        }
        current = links.get(current);
      }
      return undefined;
    },
  };
}

function need(archive: Archive, name: string, what: string): string {
  const path = archive.resolve(name);
  if (path === undefined) throw new HutchError(`the archive has no ${what} ${JSON.stringify(name)}`);
  return path;
}

function readLimited(path: string, maxBytes: number, what: string): Buffer {
  const size = statSync(path).size;
  if (size > maxBytes) throw new HutchError(`${what} is ${size} bytes, more than the ${maxBytes} allowed`);
  return readFileSync(path);
}

/**
 * A name from an archive, in the store's form. As podman loads them, a name
 * without a registry goes under localhost/ (docker save writes `busybox:latest`
 * for docker.io/library/busybox: podman, and hutch, load it as
 * localhost/busybox:latest).
 */
function archiveName(name: string): string {
  return formatReference(parseReference(name, LOCALHOST));
}

interface LoadOptions {
  userXattrs: boolean;
  space: SpaceGuard;
}

/** Commits an image under each of its names (nameless when none); returns the `Loaded image:` names. */
async function commitAll(store: ImageStore, names: string[], manifest: Manifest): Promise<string[]> {
  const body = Buffer.from(JSON.stringify(manifest));
  const descriptor: Descriptor = {
    mediaType: manifest.mediaType ?? MediaType.ociManifest,
    digest: digestOf(body),
    size: body.length,
  };
  return commitManifest(store, names, descriptor, body);
}

async function commitManifest(
  store: ImageStore,
  names: string[],
  descriptor: Descriptor,
  body: Buffer,
): Promise<string[]> {
  if (names.length === 0) return [await store.commitImage(undefined, { descriptor, body })];
  for (const name of names) await store.commitImage(name, { descriptor, body });
  return names;
}

// ---------------------------------------------------------------------------
// docker-archive

interface DockerManifestItem {
  Config: string;
  RepoTags?: string[] | null;
  Layers: string[];
}

function parseDockerManifest(body: Buffer): DockerManifestItem[] {
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch (error) {
    throw new HutchError(`manifest.json is not valid JSON: ${(error as Error).message}`);
  }
  if (!Array.isArray(value) || value.length === 0)
    throw new HutchError('manifest.json is not a non-empty array of images');
  for (const item of value as Record<string, unknown>[]) {
    const ok =
      item !== null &&
      typeof item === 'object' &&
      typeof item.Config === 'string' &&
      Array.isArray(item.Layers) &&
      item.Layers.every((l) => typeof l === 'string') &&
      (item.RepoTags === undefined ||
        item.RepoTags === null ||
        (Array.isArray(item.RepoTags) && item.RepoTags.every((t) => typeof t === 'string')));
    if (!ok)
      throw new HutchError(
        `manifest.json: an entry is not {Config, RepoTags, Layers}: ${JSON.stringify(item).slice(0, 200)}`,
      );
  }
  return value as DockerManifestItem[];
}

/** The digest a file name claims (`<hex>.json`, `blobs/sha256/<hex>`, `<hex>/layer.tar`), if any. */
function claimedDigest(name: string): Digest | undefined {
  const match = /(?:^|\/)(?:sha256\/)?([a-f0-9]{64})(?:\.json)?$/.exec(name);
  return match === null ? undefined : `sha256:${match[1]}`;
}

async function loadDockerArchive(store: ImageStore, archive: Archive, options: LoadOptions): Promise<string[]> {
  const items = parseDockerManifest(
    readLimited(need(archive, 'manifest.json', 'file'), MAX_MANIFEST_BYTES, 'manifest.json'),
  );
  const loaded: string[] = [];
  for (const item of items) {
    const configBody = readLimited(need(archive, item.Config, 'config'), MAX_CONFIG_BYTES, `config ${item.Config}`);
    const configDigest = digestOf(configBody);
    const claimed = claimedDigest(item.Config);
    if (claimed !== undefined && claimed !== configDigest) {
      throw new HutchError(`config ${item.Config}: content does not match its name (it hashes to ${configDigest})`);
    }
    const config = parseImageConfig(configBody, item.Layers.length, `config ${item.Config}`);
    const names = (item.RepoTags ?? []).map(archiveName);
    const layers: Descriptor[] = [];
    for (const [i, layerName] of item.Layers.entries()) {
      const diffId = config.rootfs.diff_ids[i] as Digest;
      const path = need(archive, layerName, 'layer');
      options.space.require(statSync(path).size, `layer ${layerName}`);
      const compression = detectCompression(readHead(path, 8));
      // Stored as the archive has it: an uncompressed layer's blob digest is its diff id.
      const blob = await store.blobs.write(
        createReadStream(path),
        compression === 'none' ? { digest: diffId } : undefined,
        { what: `layer ${layerName}` },
      );
      await unpackLayer(store, diffId, store.blobs.open(blob.digest, blob.size), compression, options);
      layers.push({ mediaType: layerMediaType(compression, 'oci'), digest: blob.digest, size: blob.size });
    }
    await store.blobs.write(configBody, { digest: configDigest, size: configBody.length });
    const manifest: Manifest = {
      schemaVersion: 2,
      mediaType: MediaType.ociManifest,
      config: { mediaType: MediaType.ociConfig, digest: configDigest, size: configBody.length },
      layers,
    };
    loaded.push(...(await commitAll(store, names, manifest)));
  }
  return loaded;
}

// ---------------------------------------------------------------------------
// oci-archive

function blobPath(archive: Archive, digest: Digest): string {
  return need(archive, `blobs/sha256/${hexOf(digest)}`, `blob`);
}

/** A small document of the archive, checked against its descriptor. */
function readDocument(archive: Archive, descriptor: Descriptor, maxBytes: number): Buffer {
  const body = readLimited(blobPath(archive, descriptor.digest), maxBytes, `blob ${descriptor.digest}`);
  const actual = digestOf(body);
  if (actual !== descriptor.digest || body.length !== descriptor.size) {
    throw new HutchError(
      `blob ${descriptor.digest}: content does not match its descriptor (${actual}, ${body.length} bytes; expected ${descriptor.size})`,
    );
  }
  return body;
}

/**
 * The name an index entry gives: containerd's full name, else the OCI ref
 * name when it is a full reference; a bare word (`latest`, how Docker and
 * skopeo often tag a layout) is a tag without a repository: nameless.
 */
function entryName(entry: Descriptor): string | undefined {
  const containerd = entry.annotations?.[ContainerdNameAnnotation];
  if (containerd !== undefined && containerd !== '') return archiveName(containerd);
  const ref = entry.annotations?.[RefNameAnnotation];
  if (ref === undefined || ref === '' || !/[/:]/.test(ref)) return undefined;
  return archiveName(ref);
}

async function loadOciArchive(store: ImageStore, archive: Archive, options: LoadOptions): Promise<string[]> {
  const layoutPath = archive.resolve('oci-layout');
  if (layoutPath !== undefined) {
    const layout = JSON.parse(readLimited(layoutPath, 4096, 'oci-layout').toString('utf8')) as {
      imageLayoutVersion?: unknown;
    };
    if (layout.imageLayoutVersion !== '1.0.0') {
      throw new HutchError(`oci-layout: unsupported imageLayoutVersion ${JSON.stringify(layout.imageLayoutVersion)}`);
    }
  }
  const indexBody = readLimited(need(archive, 'index.json', 'file'), MAX_MANIFEST_BYTES, 'index.json');
  const index = parseManifestDocument(indexBody, MediaType.ociIndex, 'index.json');
  if (index.kind !== 'index') throw new HutchError('index.json is not an image index');
  // One image per manifest, with every name the index gives it.
  const images = new Map<string, { descriptor: Descriptor; names: string[] }>();
  for (const entry of index.index.manifests) {
    let descriptor = entry;
    if (isIndexType(entry.mediaType)) {
      const nested = parseManifestDocument(
        readDocument(archive, entry, MAX_MANIFEST_BYTES),
        entry.mediaType,
        `index ${entry.digest}`,
      );
      if (nested.kind !== 'index') throw new HutchError(`index ${entry.digest} is not an image index`);
      descriptor = selectManifest(nested.index, hostPlatform(), `index ${entry.digest}`);
    }
    const image = images.get(descriptor.digest) ?? { descriptor, names: [] };
    const name = entryName(entry);
    if (name !== undefined && !image.names.includes(name)) image.names.push(name);
    images.set(descriptor.digest, image);
  }
  const loaded: string[] = [];
  for (const { descriptor, names } of images.values()) {
    const body = readDocument(archive, descriptor, MAX_MANIFEST_BYTES);
    const parsed = parseManifestDocument(body, descriptor.mediaType, `manifest ${descriptor.digest}`);
    if (parsed.kind !== 'manifest') throw new HutchError(`manifest ${descriptor.digest} is not an image manifest`);
    const manifest = parsed.manifest;
    const configBody = readDocument(archive, manifest.config, MAX_CONFIG_BYTES);
    const config = parseImageConfig(configBody, manifest.layers.length, `config ${manifest.config.digest}`);
    for (const [i, layer] of manifest.layers.entries()) {
      const diffId = config.rootfs.diff_ids[i] as Digest;
      if (!isDigest(layer.digest)) throw new HutchError(`layer digest ${JSON.stringify(layer.digest)} is invalid`);
      const path = blobPath(archive, layer.digest);
      options.space.require(statSync(path).size, `layer ${layer.digest}`);
      await store.blobs.write(
        createReadStream(path),
        { digest: layer.digest, size: layer.size },
        { what: `layer ${layer.digest}` },
      );
      const compression: Compression = layerCompression(layer.mediaType) ?? detectCompression(readHead(path, 8));
      await unpackLayer(store, diffId, store.blobs.open(layer.digest, layer.size), compression, options);
    }
    await store.blobs.write(configBody, { digest: manifest.config.digest, size: manifest.config.size });
    const mediaType = manifest.mediaType ?? descriptor.mediaType;
    loaded.push(...(await commitManifest(store, names, { ...descriptor, mediaType }, body)));
  }
  return loaded;
}
