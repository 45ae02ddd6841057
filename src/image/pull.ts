/**
 * `hutch pull`: from a registry to an image on disk ready to run. Layers
 * download in parallel; each one is stored (digest and size verified) and
 * unpacked (diff id verified) while it streams in. The image name is written
 * last, so an interrupted pull leaves no image, only verified blobs and
 * layers that the next pull reuses.
 */
import { causeChain, HutchError, withContext } from '../errors.js';
import { resolvePaths } from '../host/dirs.js';
import { currentIdentity } from '../host/identity.js';
import { enterSession } from '../host/userns-session.js';
import { isArchiveReference, pullArchive } from './archive/transport.js';
import { recordBlobSources } from './blob-sources.js';
import type { Digest } from './digest.js';
import { shortId } from './digest.js';
import { MAX_CONFIG_BYTES, manifestMediaType, parseImageConfig, parseManifestDocument } from './manifest.js';
import { layerCompression, MediaType } from './media.js';
import type { Descriptor, Manifest } from './oci.js';
import { parsePlatform, selectManifest } from './platform.js';
import type { Progress } from './progress.js';
import { defaultRegistry, formatReference, parseReference, repositoryName, type ImageReference } from './reference.js';
import { RegistryClient } from './registry/client.js';
import { authLocations, lookupCredentials, type Credentials } from './registry/credentials.js';
import { unpackLayer } from './store/layers.js';
import { DiskReserveError, SpaceGuard } from './store/reserve.js';
import { ImageStore, storageError } from './store/store.js';
import { tee } from './tee.js';

/** How to log in to a registry: stored logins (auth.json), or --creds. */
export interface RegistryAccess {
  tlsVerify: boolean;
  /** --creds USER:PASS; the stored login for the registry when undefined. */
  credentials?: Credentials | undefined;
  /** --authfile; podman's auth.json locations when undefined. */
  authFile?: string | undefined;
}

export interface PullOptions extends RegistryAccess {
  reference: string;
  /** os/arch[/variant]; the host's when undefined. */
  platform: string | undefined;
  progress: Progress;
}

export interface PullResult {
  id: Digest;
  name: string;
}

const ACCEPT = [MediaType.ociIndex, MediaType.dockerManifestList, MediaType.ociManifest, MediaType.dockerManifest];
const PARALLEL_LAYERS = 4;

export function registryClientFor(ref: ImageReference, access: RegistryAccess, env: NodeJS.ProcessEnv): RegistryClient {
  let credentials = access.credentials;
  if (credentials === undefined) {
    const identity = currentIdentity(env);
    const locations = authLocations({ env, hostUid: identity.uid, root: identity.root }, access.authFile);
    credentials = lookupCredentials(locations, `${ref.registry}/${ref.repository}`)?.credentials;
  }
  return new RegistryClient({ registry: ref.registry, tlsVerify: access.tlsVerify, credentials });
}

/** Runs tasks with at most `limit` at once; rejects with the first failure after the others settle. */
export async function inParallel<T>(
  items: T[],
  limit: number,
  task: (item: T, index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failure: unknown;
  const worker = async () => {
    while (next < items.length && failure === undefined) {
      const index = next++;
      try {
        await task(items[index] as T, index);
      } catch (error) {
        failure ??= error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure !== undefined) throw failure;
}

async function resolveManifest(
  client: RegistryClient,
  ref: ImageReference,
  platform: string | undefined,
): Promise<{ descriptor: Descriptor; body: Buffer; manifest: Manifest }> {
  const name = formatReference(ref);
  const first = await client.getManifest(ref.repository, ref.digest ?? (ref.tag as string), ACCEPT);
  let document = parseManifestDocument(first.body, first.mediaType, name);
  let fetched = first;
  if (document.kind === 'index') {
    const chosen = selectManifest(document.index, parsePlatform(platform), name);
    fetched = await client.getManifest(ref.repository, chosen.digest, [
      MediaType.ociManifest,
      MediaType.dockerManifest,
    ]);
    document = parseManifestDocument(fetched.body, fetched.mediaType, `${name}@${chosen.digest}`);
    if (document.kind === 'index') throw new HutchError(`${name}: an index inside an index is not supported`);
  }
  const manifest = document.manifest;
  for (const layer of manifest.layers) {
    if (layerCompression(layer.mediaType) === undefined) {
      throw new HutchError(
        `${name}: layer ${layer.digest} has media type ${layer.mediaType}, which is not an image layer`,
        {
          hint: 'this looks like an OCI artifact: fetch it with hutch artifact pull',
        },
      );
    }
  }
  return {
    descriptor: {
      mediaType: manifestMediaType(manifest, fetched.mediaType),
      digest: fetched.digest,
      size: fetched.body.length,
    },
    body: fetched.body,
    manifest,
  };
}

export async function pullImage(options: PullOptions, env: NodeJS.ProcessEnv = process.env): Promise<PullResult> {
  // docker-archive:FILE and oci-archive:FILE come from a file, not a registry.
  if (isArchiveReference(options.reference)) return pullArchive(options.reference, env);
  const identity = currentIdentity(env);
  await enterSession(identity, env);
  const ref = parseReference(options.reference, defaultRegistry(env));
  const name = formatReference(ref);
  const storage = resolvePaths(env, identity.uid).storage;
  const store = ImageStore.open(storage);
  const client = registryClientFor(ref, options, env);
  const { progress } = options;
  let collect = false;
  try {
    const { descriptor, body, manifest } = await resolveManifest(client, ref, options.platform);
    const release = await store.writeLock();
    try {
      // One guard for the layers unpacked in parallel (src/image/store/reserve.ts).
      const space = new SpaceGuard(storage, env);
      checkDeclaredSizes(store, manifest, space);
      if (!store.blobs.has(manifest.config.digest)) {
        await store.blobs.write(await client.getBlob(ref.repository, manifest.config), manifest.config);
      }
      const configBody = await store.blobs.readBuffer(manifest.config.digest, MAX_CONFIG_BYTES);
      const config = parseImageConfig(configBody, manifest.layers.length, `${name} config`);
      await inParallel(manifest.layers, PARALLEL_LAYERS, async (layer, i) => {
        const diffId = config.rootfs.diff_ids[i] as Digest;
        await pullLayer(store, client, ref, layer, diffId, progress, !identity.root, space);
      });
      await store.blobs.write(body, { digest: descriptor.digest, size: descriptor.size });
      const id = await store.commitImage(ref.digest === undefined ? name : undefined, { descriptor, body });
      recordBlobSources(
        storage,
        repositoryName(ref),
        manifest.layers.map((l) => l.digest),
      );
      return { id, name };
    } finally {
      release();
    }
  } catch (error) {
    // Low on space: what this pull stored (its config, the blobs of its
    // layers) is not kept for a next pull, but removed if no other writer is busy.
    collect = causeChain(error).some((e) => e instanceof DiskReserveError);
    throw withContext('pull', `pull ${name}`, storageError(error, storage, 'store the image'));
  } finally {
    progress.close();
    // Opportunistic: a collection that cannot run now (another writer holds the
    // store, a part of it cannot be read) is left to a later command.
    if (collect) await store.collectGarbage({ wait: false }).catch(() => undefined);
  }
}

/**
 * Refuses, before any download, layers whose blobs (their declared, compressed
 * sizes, counted together) would not fit above the disk reserve. How much they
 * inflate is unknown until they are unpacked: the extraction's meter covers that.
 */
function checkDeclaredSizes(store: ImageStore, manifest: Manifest, space: SpaceGuard): void {
  let total = 0;
  for (const layer of manifest.layers) {
    if (store.blobs.has(layer.digest)) continue;
    total += layer.size;
    space.require(total, `layer ${layer.digest}${total === layer.size ? '' : ' and the layers before it'}`);
  }
}

/** One layer into the store: its blob stored and unpacked (both verified), whichever of the two is missing. */
export async function pullLayer(
  store: ImageStore,
  client: RegistryClient,
  ref: ImageReference,
  layer: Descriptor,
  diffId: Digest,
  progress: Progress,
  userXattrs: boolean,
  space: SpaceGuard = new SpaceGuard(store.storageDir),
): Promise<void> {
  const compression = layerCompression(layer.mediaType);
  if (compression === undefined)
    throw new HutchError(`layer ${layer.digest}: unsupported media type ${layer.mediaType}`);
  const haveBlob = store.blobs.has(layer.digest);
  const haveLayer = store.layers.has(diffId);
  const bar = progress.blob(layer.digest, layer.size);
  if (haveBlob && haveLayer) {
    bar.finish('skipped');
    return;
  }
  try {
    if (haveBlob) {
      await unpackLayer(store, diffId, store.blobs.open(layer.digest, layer.size), compression, {
        userXattrs,
        compressedSize: layer.size,
        space,
      });
    } else {
      space.require(layer.size, `layer ${layer.digest}`);
      const download = await client.getBlob(ref.repository, layer);
      download.on('data', (chunk: Buffer) => bar.advance(chunk.length));
      if (haveLayer) {
        await store.blobs.write(download, layer);
      } else {
        const [toBlob, toLayer] = tee(download);
        // The first failure is reported, once both settled: nothing still writes when it is handled.
        const failures: unknown[] = [];
        const noted = (task: Promise<unknown>) => task.catch((error: unknown) => void failures.push(error));
        await Promise.all([
          noted(store.blobs.write(toBlob, layer)),
          noted(unpackLayer(store, diffId, toLayer, compression, { userXattrs, compressedSize: layer.size, space })),
        ]);
        if (failures.length > 0) throw failures[0];
      }
    }
    bar.finish('done');
  } catch (error) {
    bar.finish('failed');
    throw withContext('layer', `layer ${shortId(layer.digest)}`, error);
  }
}
