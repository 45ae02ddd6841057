/**
 * `hutch pull`: from a registry to an image on disk ready to run. Layers
 * download in parallel; each one is stored (digest and size verified) and
 * unpacked (diff id verified) while it streams in. The image name is written
 * last, so an interrupted pull leaves no image, only verified blobs and
 * layers that the next pull reuses.
 */
import { causeChain, HutchError, messageOf, withContext } from '../errors.js';
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
import { formatReference, isShortName, repositoryName, type ImageReference } from './reference.js';
import type { RegistriesConf } from './registries-conf/config.js';
import { blockedError, findRegistry, pullSources } from './registries-conf/endpoints.js';
import { loadRegistriesConf } from './registries-conf/load.js';
import { pullCandidates } from './registries-conf/short-names.js';
import { RegistryClient } from './registry/client.js';
import { authLocations, lookupCredentials, type Credentials } from './registry/credentials.js';
import { unpackLayer } from './store/layers.js';
import { DiskReserveError, SpaceGuard } from './store/reserve.js';
import { ImageNotKnownError } from './store/resolve.js';
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

/**
 * A client for `ref`'s registry. Stored logins are looked up for `ref` (the
 * endpoint, after a registries.conf rewrite); --creds go only to the registry
 * the user named (`named`), never to a mirror elsewhere.
 */
export function registryClientFor(
  ref: ImageReference,
  access: RegistryAccess,
  env: NodeJS.ProcessEnv,
  named: ImageReference = ref,
): RegistryClient {
  let credentials = ref.registry === named.registry ? access.credentials : undefined;
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

/**
 * Pulls what the user named: a short name resolves through registries.conf
 * (its alias, else each unqualified-search registry in turn; a short name that
 * names an image in the store is pulled under that image's name, as podman
 * does). Each candidate is fetched through its [[registry]] mapping and stored
 * under the candidate's name. Prints podman's "Trying to pull NAME..." lines
 * as progress notes.
 */
export async function pullImage(options: PullOptions, env: NodeJS.ProcessEnv = process.env): Promise<PullResult> {
  // docker-archive:FILE and oci-archive:FILE come from a file, not a registry.
  if (isArchiveReference(options.reference)) return pullArchive(options.reference, env);
  const identity = currentIdentity(env);
  await enterSession(identity, env);
  const conf = loadRegistriesConf(env);
  const storage = resolvePaths(env, identity.uid).storage;
  const store = ImageStore.open(storage);
  const { progress } = options;
  try {
    const resolution = pullCandidates(localName(store, options.reference) ?? options.reference, conf);
    if (resolution.description !== undefined) progress.note(resolution.description);
    const failures: unknown[] = [];
    for (const candidate of resolution.candidates) {
      progress.note(`Trying to pull ${formatReference(candidate)}...`);
      try {
        return await pullCandidate(store, storage, candidate, conf, options, env, identity.root);
      } catch (error) {
        if (resolution.candidates.length === 1) throw error;
        failures.push(error);
      }
    }
    throw new HutchError(
      `${failures.length} errors occurred while pulling:${failures.map((e) => `\n * ${messageOf(e)}`).join('')}`,
      {
        hint: 'the candidates come from unqualified-search-registries in registries.conf; name the registry to try one',
      },
    );
  } finally {
    progress.close();
  }
}

/** The stored name a short name finds in the store (podman pulls that name), if it finds one by name. */
function localName(store: ImageStore, input: string): string | undefined {
  if (!isShortName(input)) return undefined;
  try {
    return store.findImage(input).name;
  } catch (error) {
    if (error instanceof ImageNotKnownError) return undefined;
    throw error;
  }
}

/** Where the manifest was found: the client of that endpoint and the reference there. */
interface Found {
  client: RegistryClient;
  source: ImageReference;
  descriptor: Descriptor;
  body: Buffer;
  manifest: Manifest;
}

/**
 * The manifest of `ref` from its first endpoint that has it (mirrors, then
 * the location). When every endpoint fails, the location's error, with the
 * mirrors' in front (podman's "(Mirrors also failed: …)").
 */
async function findManifest(
  ref: ImageReference,
  conf: RegistriesConf,
  options: PullOptions,
  env: NodeJS.ProcessEnv,
): Promise<Found> {
  const attempts: { source: ImageReference; error: unknown }[] = [];
  for (const source of pullSources(conf, ref)) {
    const entry = findRegistry(conf, repositoryName(source.reference));
    if (entry?.blocked === true) {
      attempts.push({ source: source.reference, error: blockedError(entry, conf) });
      continue;
    }
    const access = { ...options, tlsVerify: options.tlsVerify && !source.insecure };
    const client = registryClientFor(source.reference, access, env, ref);
    try {
      return {
        client,
        source: source.reference,
        ...(await resolveManifest(client, source.reference, options.platform)),
      };
    } catch (error) {
      client.close();
      attempts.push({ source: source.reference, error });
    }
  }
  const primary = attempts[attempts.length - 1] as { source: ImageReference; error: unknown };
  if (attempts.length === 1) throw primary.error;
  const mirrors = attempts.slice(0, -1).map((a) => `[${formatReference(a.source)}: ${messageOf(a.error)}]`);
  throw new HutchError(
    `(Mirrors also failed: ${mirrors.join('\n')}): ${formatReference(primary.source)}: ${messageOf(primary.error)}`,
    { hint: hintOf(primary.error), cause: primary.error },
  );
}

function hintOf(error: unknown): string | undefined {
  return causeChain(error).find((e): e is HutchError => e instanceof HutchError && e.hint !== undefined)?.hint;
}

/** One candidate into the store, under its name (not the endpoint's). */
async function pullCandidate(
  store: ImageStore,
  storage: string,
  ref: ImageReference,
  conf: RegistriesConf,
  options: PullOptions,
  env: NodeJS.ProcessEnv,
  root: boolean,
): Promise<PullResult> {
  const name = formatReference(ref);
  const { progress } = options;
  let collect = false;
  try {
    const { client, source, descriptor, body, manifest } = await findManifest(ref, conf, options, env);
    const release = await store.writeLock();
    try {
      // One guard for the layers unpacked in parallel (src/image/store/reserve.ts).
      const space = new SpaceGuard(storage, env);
      checkDeclaredSizes(store, manifest, space);
      if (!store.blobs.has(manifest.config.digest)) {
        await store.blobs.write(await client.getBlob(source.repository, manifest.config), manifest.config);
      }
      const configBody = await store.blobs.readBuffer(manifest.config.digest, MAX_CONFIG_BYTES);
      const config = parseImageConfig(configBody, manifest.layers.length, `${name} config`);
      await inParallel(manifest.layers, PARALLEL_LAYERS, async (layer, i) => {
        const diffId = config.rootfs.diff_ids[i] as Digest;
        await pullLayer(store, client, source, layer, diffId, progress, !root, space);
      });
      await store.blobs.write(body, { digest: descriptor.digest, size: descriptor.size });
      const id = await store.commitImage(ref.digest === undefined ? name : undefined, { descriptor, body });
      recordBlobSources(
        storage,
        repositoryName(source),
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
