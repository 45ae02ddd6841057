/**
 * `hutch push`: an image from the store to a registry. Blobs the registry
 * has are skipped (HEAD), blobs another repository of the same registry has
 * are mounted, the rest are uploaded (monolithic, or chunked with
 * --chunk-size). Layers are recompressed only when asked for another
 * compression; the result is kept in the store so the next push reuses it.
 */
import { createReadStream, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { HutchError, withContext } from '../errors.js';
import { resolvePaths } from '../host/dirs.js';
import { currentIdentity } from '../host/identity.js';
import { enterSession } from '../host/userns-session.js';
import { blobSources, recordBlobSources } from './blob-sources.js';
import { digestOf, shortId, type Digest } from './digest.js';
import { compressStream, decompressStream } from './layer/compression.js';
import { layerCompression, layerMediaType, MediaType, type Compression } from './media.js';
import type { Descriptor, Manifest } from './oci.js';
import { inParallel, registryClientFor, type RegistryAccess } from './pull.js';
import type { Progress } from './progress.js';
import { formatReference, parseReference, repositoryName, type ImageReference } from './reference.js';
import type { RegistriesConf } from './registries-conf/config.js';
import { destinationAccess } from './registries-conf/endpoints.js';
import { loadRegistriesConf } from './registries-conf/load.js';
import type { RegistryClient } from './registry/client.js';
import { matchName, matchShortName } from './store/refs.js';
import { ImageStore } from './store/store.js';
import { writeFileAtomic } from '../fs/atomic-write.js';

export type ManifestFamily = 'oci' | 'docker';

export interface PushOptions extends RegistryAccess {
  source: string;
  /** Where to; the source's own name when undefined. */
  destination: string | undefined;
  /** Recompress layers to this; keep what the store has (gzip for uncompressed) when undefined. */
  compression: Exclude<Compression, 'none'> | undefined;
  /** OCI or Docker schema 2 media types; the stored manifest's when undefined. */
  format: ManifestFamily | undefined;
  /** Upload in chunks of this many bytes; monolithic when undefined. */
  chunkSize: number | undefined;
  progress: Progress;
}

export interface PushResult {
  name: string;
  digest: Digest;
}

const PARALLEL_BLOBS = 3;

/** Recompressed layers, `<digest>:<compression>` -> digest, so a push does not redo the work. */
function conversionsFile(storage: string): string {
  return join(storage, 'conversions.json');
}

function readConversions(storage: string): Record<string, Digest> {
  try {
    return JSON.parse(readFileSync(conversionsFile(storage), 'utf8')) as Record<string, Digest>;
  } catch {
    // None yet, or unusable: a cache, so the cost is compressing the layer again.
    return {};
  }
}

function saveConversion(storage: string, key: string, digest: Digest): void {
  const conversions = { ...readConversions(storage), [key]: digest };
  const file = conversionsFile(storage);
  writeFileAtomic(file, JSON.stringify(conversions));
}

async function recompress(
  store: ImageStore,
  storage: string,
  layer: Descriptor,
  from: Compression,
  to: Compression,
): Promise<{ digest: Digest; size: number }> {
  const key = `${layer.digest}:${to}`;
  const known = readConversions(storage)[key];
  if (known !== undefined && store.blobs.has(known)) {
    return { digest: known, size: statSync(store.blobs.path(known)).size };
  }
  const source = store.blobs.open(layer.digest, layer.size);
  const result = await store.blobs.write(
    source.pipe(decompressStream(from, { size: layer.size })).pipe(compressStream(to)),
  );
  saveConversion(storage, key, result.digest);
  return result;
}

/**
 * Where a push goes without a destination: the source as the user typed it,
 * read as podman reads a destination (a name without a registry is docker.io's:
 * `push app` goes to docker.io/library/app, whatever the stored name). An id
 * names no destination.
 */
function defaultDestination(source: string, names: string[], conf: RegistriesConf): string | undefined {
  try {
    if (matchName(source, names, { shortNames: conf }) !== undefined) return source;
    return matchShortName(source, names) !== undefined ? source : undefined;
  } catch {
    // not a reference (an image id): no name to push to
    return undefined;
  }
}

export async function pushImage(options: PushOptions, env: NodeJS.ProcessEnv = process.env): Promise<PushResult> {
  const identity = currentIdentity(env);
  await enterSession(identity, env);
  const storage = resolvePaths(env, identity.uid).storage;
  const store = ImageStore.open(storage);
  const conf = loadRegistriesConf(env);
  const image = store.resolveImage(options.source);
  const destinationText = options.destination ?? defaultDestination(options.source, image.names, conf);
  if (destinationText === undefined) {
    throw new HutchError(`no destination for ${options.source}: it is given by id`, {
      hint: `name it: hutch push ${options.source} REGISTRY/NAME[:TAG]`,
    });
  }
  const dest = parseReference(destinationText);
  const name = formatReference(dest);
  const { progress } = options;
  try {
    const { insecure } = destinationAccess(conf, repositoryName(dest));
    const client = registryClientFor(dest, { ...options, tlsVerify: options.tlsVerify && !insecure }, env);
    const stored = image.manifest;
    const family: ManifestFamily =
      options.format ?? (image.manifestDescriptor.mediaType === MediaType.dockerManifest ? 'docker' : 'oci');
    const release = await store.writeLock();
    let layers: Descriptor[];
    try {
      layers = await Promise.all(stored.layers.map((l) => targetLayer(store, storage, l, options.compression, family)));
    } finally {
      release();
    }
    const config: Descriptor = {
      ...stored.config,
      mediaType: family === 'docker' ? MediaType.dockerConfig : MediaType.ociConfig,
    };
    await inParallel([config, ...layers], PARALLEL_BLOBS, (blob) =>
      pushBlob(client, store, storage, dest, blob, options.chunkSize, progress),
    );
    const unchanged =
      image.manifestDescriptor.mediaType === (family === 'docker' ? MediaType.dockerManifest : MediaType.ociManifest) &&
      stored.config.mediaType === config.mediaType &&
      stored.layers.every((l, i) => l.digest === layers[i]?.digest && l.mediaType === layers[i]?.mediaType);
    let body: Buffer;
    let mediaType: string;
    if (unchanged) {
      body = await store.blobs.readBuffer(image.manifestDescriptor.digest, 4 * 1024 * 1024);
      mediaType = image.manifestDescriptor.mediaType;
    } else {
      mediaType = family === 'docker' ? MediaType.dockerManifest : MediaType.ociManifest;
      const manifest: Manifest = { schemaVersion: 2, mediaType, config, layers };
      if (family === 'oci' && stored.annotations !== undefined) manifest.annotations = stored.annotations;
      body = Buffer.from(JSON.stringify(manifest));
    }
    progress.note('Writing manifest to image destination');
    const digest = await client.putManifest(dest.repository, dest.tag ?? digestOf(body), mediaType, body);
    recordBlobSources(storage, repositoryName(dest), [config.digest, ...layers.map((l) => l.digest)]);
    return { name, digest };
  } catch (error) {
    throw withContext('push', `push ${name}`, error);
  } finally {
    progress.close();
  }
}

async function targetLayer(
  store: ImageStore,
  storage: string,
  layer: Descriptor,
  wanted: Exclude<Compression, 'none'> | undefined,
  family: ManifestFamily,
): Promise<Descriptor> {
  const stored = layerCompression(layer.mediaType);
  if (stored === undefined) throw new HutchError(`layer ${layer.digest}: unsupported media type ${layer.mediaType}`);
  const target = wanted ?? (stored === 'none' ? 'gzip' : stored);
  if (target === stored) return { ...layer, mediaType: layerMediaType(target, family) };
  const converted = await recompress(store, storage, layer, stored, target);
  return { mediaType: layerMediaType(target, family), digest: converted.digest, size: converted.size };
}

/** One blob to a registry: skipped when it is there, mounted from another repository when it can be, else uploaded. */
export async function pushBlob(
  client: RegistryClient,
  store: ImageStore,
  storage: string,
  dest: ImageReference,
  blob: Descriptor,
  chunkSize: number | undefined,
  progress: Progress,
): Promise<void> {
  const bar = progress.blob(blob.digest, blob.size);
  try {
    if (await client.blobExists(dest.repository, blob.digest)) {
      bar.finish('exists');
      return;
    }
    const here = repositoryName(dest);
    for (const source of blobSources(storage, blob.digest)) {
      const prefix = `${dest.registry}/`;
      if (source === here || !source.startsWith(prefix)) continue;
      if (await client.mountBlob(dest.repository, blob.digest, source.slice(prefix.length))) {
        bar.finish('mounted');
        return;
      }
    }
    const path = store.blobs.path(blob.digest);
    await client.pushBlob(
      dest.repository,
      blob,
      (start) => {
        const stream = createReadStream(path, { start });
        stream.on('data', (chunk) => bar.advance(chunk.length));
        return stream;
      },
      { chunkSize },
    );
    bar.finish('done');
  } catch (error) {
    bar.finish('failed');
    throw withContext('blob', `blob ${shortId(blob.digest)}`, error);
  }
}

/** podman's --digestfile: the manifest digest, written atomically. */
export function writeDigestFile(path: string, digest: Digest): void {
  writeFileAtomic(path, digest);
}
