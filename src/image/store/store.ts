/**
 * The image store, under the user's storage directory (~/.local/share/hutch):
 *
 *   oci/          an OCI image layout (image-layout.md): oci-layout, index.json,
 *                 blobs/sha256/<hex>; every image is an index.json entry
 *                 (refs.ts), its id is its config digest (podman's)
 *   layers/<hex>/ each layer unpacked once per diff id (layers.ts)
 *   tmp/          temp files and dirs, flocked by their writer, on the same
 *                 file system so that finished ones are renamed into place;
 *                 what no live process holds is a dead command's leftover,
 *                 removed by the next command that opens the store (leftovers.ts)
 *   locks/        store.lock (writers shared, garbage collection exclusive),
 *                 index.lock, one lock per layer being unpacked
 *
 * Every command that uses it runs inside the user's session (openUserStore).
 */
import { mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { causeChain, HutchError, messageOf } from '../../errors.js';
import { resolvePaths } from '../../host/dirs.js';
import { currentIdentity, type Identity } from '../../host/identity.js';
import { enterSession } from '../../host/userns-session.js';
import { algorithmOf, digestOf, type Digest } from '../digest.js';
import { MAX_CONFIG_BYTES, MAX_MANIFEST_BYTES, parseImageConfig, parseManifestDocument } from '../manifest.js';
import { isManifestType } from '../media.js';
import type { Descriptor, ImageConfig, Index, Manifest } from '../oci.js';
import { isShortName } from '../reference.js';
import { emptyRegistriesConf } from '../registries-conf/config.js';
import { loadRegistriesConf } from '../registries-conf/load.js';
import type { ShortNameSettings } from '../registries-conf/short-names.js';
import { BlobStore } from './blobs.js';
import { LayerStore } from './layers.js';
import { collectGarbage, collectGarbageLocked, reachable, type GarbageReport } from './gc.js';
import { reapLeftovers } from './leftovers.js';
import { namesHistoryOf } from './names-history.js';
import { acquireLock, moveIntoTemp, type Release, type TempEntry } from '../../fs/lock.js';
import { ifExists } from '../../fs/missing.js';
import {
  addNameless,
  emptyIndex,
  normalizeName,
  readIndex,
  refNameOf,
  setName,
  updateIndex,
  writeIndex,
} from './refs.js';
import {
  findImage,
  ImageNotKnownError,
  imageNotKnown,
  isDamaged,
  type DamagedImage,
  type FoundImage,
  type ImageSummary,
  type ResolvedImage,
} from './resolve.js';
import { createFileAtomic } from '../../fs/atomic-write.js';

const LAYOUT = '{"imageLayoutVersion":"1.0.0"}\n';

export class ImageStore {
  readonly blobs: BlobStore;
  readonly layers: LayerStore;
  readonly tmpDir: string;
  readonly ociDir: string;
  readonly indexPath: string;
  readonly locksDir: string;
  /**
   * The build cache (src/build/cache.ts): one JSON file per cached step,
   * `{"diffId": …, "blob": {"digest": …}}`; what these name is kept by
   * garbage collection like what an image uses.
   */
  readonly buildCacheDir: string;

  private constructor(readonly storageDir: string) {
    this.ociDir = join(storageDir, 'oci');
    this.indexPath = join(this.ociDir, 'index.json');
    this.tmpDir = join(storageDir, 'tmp');
    this.locksDir = join(storageDir, 'locks');
    this.buildCacheDir = join(storageDir, 'build-cache');
    this.blobs = new BlobStore(this.ociDir, this.tmpDir);
    this.layers = new LayerStore(join(storageDir, 'layers'), this.tmpDir, this.locksDir);
  }

  /**
   * Opens the store at storageDir, creating what is missing (safe when several
   * commands start at once), and removes what dead commands left in tmp/ (one
   * readdir and one flock probe per entry; see leftovers.ts). reap: false
   * leaves them, for `system check` to report.
   */
  static open(storageDir: string, options: { reap?: boolean } = {}): ImageStore {
    const store = new ImageStore(storageDir);
    mkdirSync(storageDir, { recursive: true, mode: 0o700 });
    for (const dir of [join(store.ociDir, 'blobs', 'sha256'), store.layers.root, store.tmpDir, store.locksDir]) {
      mkdirSync(dir, { recursive: true, mode: 0o755 });
    }
    createIfMissing(join(store.ociDir, 'oci-layout'), LAYOUT, store.tmpDir);
    createIfMissing(store.indexPath, `${JSON.stringify(emptyIndex())}\n`, store.tmpDir);
    if (options.reap !== false) reapLeftovers(store.tmpDir);
    return store;
  }

  get storeLockPath(): string {
    return join(this.locksDir, 'store.lock');
  }

  get indexLockPath(): string {
    return join(this.locksDir, 'index.lock');
  }

  /**
   * Hold (shared) while adding blobs and layers that no image references yet
   * (pull, import, load, build) and while reading blobs that must not vanish
   * (save, push): garbage collection and `system check` take it exclusively.
   */
  writeLock(): Promise<Release> {
    return acquireLock(this.storeLockPath, { shared: true });
  }

  readIndex(): Index {
    return readIndex(this.indexPath);
  }

  /**
   * The commit point of a pull, import, load or build. Stores the manifest
   * (verified against its descriptor) if it is not stored yet; checks that the
   * config and every layer blob (with the sizes the manifest gives) AND every
   * unpacked layer are present; then atomically (temp file + rename of
   * index.json, under the index lock) points `name` at the manifest. A name
   * already used moves, leaving its old image nameless; without a name the
   * image is added nameless unless it is in the index already. A nameless
   * entry of another manifest with the same config (the same image id) is
   * dropped: podman keeps one image per id. Returns the image id (the config
   * digest). The caller holds writeLock() while it stores blobs and layers and
   * commits; after releasing it, `collectGarbage({ wait: false })` removes what
   * a moved name or a failure left unused.
   */
  async commitImage(name: string | undefined, manifest: { descriptor: Descriptor; body: Buffer }): Promise<Digest> {
    const { descriptor, body } = manifest;
    const what = `manifest ${descriptor.digest}`;
    const actual = digestOf(body, algorithmOf(descriptor.digest));
    if (actual !== descriptor.digest || body.length !== descriptor.size) {
      throw new HutchError(`${what}: the body does not match its descriptor (${actual}, ${body.length} bytes)`);
    }
    const parsed = parseManifestDocument(body, descriptor.mediaType, what);
    if (parsed.kind !== 'manifest') throw new HutchError(`${what}: an image index cannot be stored as an image`);
    const mediaType = parsed.manifest.mediaType ?? descriptor.mediaType;
    if (!isManifestType(mediaType)) throw new HutchError(`${what}: media type ${mediaType} is not an image manifest`);
    await this.blobs.write(body, { digest: descriptor.digest, size: descriptor.size });
    const entry: Descriptor = { mediaType, digest: descriptor.digest, size: descriptor.size };
    const fullName = name === undefined ? undefined : normalizeName(name);
    let id: Digest | undefined;
    await updateIndex(this.indexPath, this.indexLockPath, this.tmpDir, (index) => {
      // Checked under the index lock: garbage collection decides under it too.
      const imageId = this.checkComplete(parsed.manifest, what).id;
      id = imageId;
      // Another manifest of the same image (same config: a docker-archive load
      // of a pulled image, say) already in the index makes a nameless entry
      // redundant; podman keeps one image per id.
      const sameImage = (e: Descriptor) => e.digest !== entry.digest && this.configDigestOf(e) === imageId;
      if (fullName === undefined) {
        return index.manifests.some(sameImage) ? undefined : addNameless(index, entry);
      }
      const next = setName(index, fullName, entry);
      return { ...next, manifests: next.manifests.filter((e) => refNameOf(e) !== undefined || !sameImage(e)) };
    });
    return id as Digest;
  }

  /** The config digest (image id) of an index entry's manifest; undefined when unreadable. */
  private configDigestOf(entry: Descriptor): Digest | undefined {
    try {
      const parsed = parseManifestDocument(
        this.blobs.readBufferSync(entry.digest, MAX_MANIFEST_BYTES),
        entry.mediaType,
        `manifest ${entry.digest}`,
      );
      return parsed.kind === 'manifest' ? parsed.manifest.config.digest : undefined;
    } catch {
      return undefined;
    }
  }

  /** The config of a complete manifest; throws naming the first missing piece. */
  private checkComplete(manifest: Manifest, what: string): { id: Digest; config: ImageConfig } {
    const id = manifest.config.digest;
    const config = this.readConfig(manifest, what);
    manifest.layers.forEach((layer, i) => {
      const size = this.blobs.size(layer.digest);
      if (size === undefined) throw new HutchError(`${what}: layer blob ${layer.digest} is not in the store`);
      if (size !== layer.size) {
        throw new HutchError(`${what}: layer blob ${layer.digest} is ${size} bytes, the manifest says ${layer.size}`);
      }
      const diffId = config.rootfs.diff_ids[i] as Digest;
      if (!this.layers.has(diffId)) throw new HutchError(`${what}: layer ${diffId} is not unpacked`);
    });
    return { id, config };
  }

  private readConfig(manifest: Manifest, what: string): ImageConfig {
    const size = this.blobs.size(manifest.config.digest);
    if (size === undefined) throw new HutchError(`${what}: config ${manifest.config.digest} is not in the store`);
    if (size !== manifest.config.size) {
      throw new HutchError(
        `${what}: config ${manifest.config.digest} is ${size} bytes, the manifest says ${manifest.config.size}`,
      );
    }
    const body = this.blobs.readBufferSync(manifest.config.digest, MAX_CONFIG_BYTES);
    return parseImageConfig(body, manifest.layers.length, `config ${manifest.config.digest}`);
  }

  /** Reads one image (manifest digest) of the index: its documents, names and size. */
  private loadImage(index: Index, entry: Descriptor): ResolvedImage {
    const what = `manifest ${entry.digest}`;
    const body = this.blobs.readBufferSync(entry.digest, MAX_MANIFEST_BYTES);
    if (body.length !== entry.size)
      throw new HutchError(`${what} is ${body.length} bytes, index.json says ${entry.size}`);
    const parsed = parseManifestDocument(body, entry.mediaType, what);
    if (parsed.kind !== 'manifest') throw new HutchError(`${what} is an image index, not an image`);
    const manifest = parsed.manifest;
    const config = this.readConfig(manifest, what);
    let size = 0;
    manifest.layers.forEach((layer, i) => {
      const known = this.layers.info(config.rootfs.diff_ids[i] as Digest).size;
      size += typeof known === 'number' ? known : layer.size;
    });
    const created = config.created === undefined ? undefined : new Date(config.created);
    return {
      id: manifest.config.digest,
      names: namesOf(index, entry.digest),
      namesHistory: namesHistoryOf(index, entry.digest),
      manifestDescriptor: { mediaType: entry.mediaType, digest: entry.digest, size: entry.size },
      manifest,
      config,
      configSize: manifest.config.size,
      size,
      created: created === undefined || Number.isNaN(created.getTime()) ? undefined : created,
    };
  }

  /** Every image of the index (one per manifest), and the entries that cannot be read. */
  scan(index: Index = this.readIndex()): { images: ResolvedImage[]; damaged: DamagedImage[] } {
    const images: ResolvedImage[] = [];
    const damaged: DamagedImage[] = [];
    const seen = new Set<string>();
    for (const entry of index.manifests) {
      if (seen.has(entry.digest)) continue;
      seen.add(entry.digest);
      try {
        images.push(this.loadImage(index, entry));
      } catch (error) {
        damaged.push({ digest: entry.digest, names: namesOf(index, entry.digest), problem: (error as Error).message });
      }
    }
    return { images, damaged };
  }

  /** Every readable image, newest first (damaged ones are left to `system check`). */
  listImages(scanned: { images: ResolvedImage[] } = this.scan()): ImageSummary[] {
    return [...scanned.images].sort((a, b) => (b.created?.getTime() ?? 0) - (a.created?.getTime() ?? 0));
  }

  /**
   * Finds an image as podman does: a full id or `sha256:` digest (image id or
   * manifest digest); a name (a short name through registries.conf: its
   * alias, localhost/, the search registries, docker.io); a unique id prefix of at least 3 hex digits; a docker-style
   * short name (unique repository suffix). HutchError `NAME: image not known`
   * otherwise.
   */
  resolveImage(nameOrId: string): ResolvedImage {
    const { images, damaged } = this.scan();
    const { image } = this.findImage(nameOrId, images, damaged);
    if (isDamaged(image)) {
      throw new HutchError(`${nameOrId}: the image is damaged: ${image.problem}`, {
        hint: 'run hutch system check --repair, then pull or load it again',
      });
    }
    return image;
  }

  /** resolveImage, for verbs that also act on damaged images (rmi) and need the name that matched. */
  findImage(
    nameOrId: string,
    images: readonly ResolvedImage[] = this.scan().images,
    damaged: readonly DamagedImage[] = [],
  ): FoundImage {
    const found = findImage(nameOrId, images, damaged, shortNameSettings(nameOrId));
    if (found === undefined) throw imageNotKnown(nameOrId);
    return found;
  }

  /**
   * Removes what no image uses: blobs not reached from index.json, unpacked
   * layers no image's config lists, and leftovers of interrupted commands in
   * tmp/ and layers/ (gc.ts). With wait false, returns undefined at once when
   * a writer is busy.
   */
  collectGarbage(options: { wait?: boolean } = {}): Promise<GarbageReport | undefined> {
    return collectGarbage(this, options);
  }

  /** collectGarbage's work; the caller holds the store lock exclusively. */
  collectGarbageLocked(): Promise<GarbageReport> {
    return collectGarbageLocked(this);
  }

  /** What index.json reaches: undefined when some manifest or config cannot be read. */
  reachable(index: Index): { blobs: Set<string>; layers: Set<string> } | undefined {
    return reachable(this, index);
  }

  /**
   * Moves a path of the store into tmp/ (one rename), flocked by this process
   * until the caller releases it, so that nobody else takes it for a leftover
   * while the caller removes it. undefined when the path is not there.
   */
  detach(path: string): TempEntry | undefined {
    return moveIntoTemp(path, this.tmpDir, 'gc-');
  }

  /** Rewrites index.json without the given manifests (rmi, prune, check --repair). */
  async removeImages(digests: Digest[]): Promise<void> {
    const doomed = new Set<string>(digests);
    await updateIndex(this.indexPath, this.indexLockPath, this.tmpDir, (index) => ({
      ...index,
      manifests: index.manifests.filter((e) => !doomed.has(e.digest)),
    }));
  }

  /** Replaces an unreadable index.json by an empty one (check --repair). */
  resetIndex(): void {
    writeIndex(this.indexPath, emptyIndex(), this.tmpDir);
  }

  /** The layout marker, if valid. */
  layoutProblem(): string | undefined {
    try {
      const text = readFileSync(join(this.ociDir, 'oci-layout'), 'utf8');
      const value = JSON.parse(text) as { imageLayoutVersion?: unknown };
      if (value.imageLayoutVersion !== '1.0.0')
        return `oci/oci-layout has version ${JSON.stringify(value.imageLayoutVersion)}, not 1.0.0`;
      return undefined;
    } catch (error) {
      return `oci/oci-layout is unreadable: ${(error as Error).message}`;
    }
  }

  /** Rewrites oci/oci-layout (check --repair). */
  resetLayout(): void {
    rmSync(join(this.ociDir, 'oci-layout'), { force: true });
    createIfMissing(join(this.ociDir, 'oci-layout'), LAYOUT, this.tmpDir);
  }
}

/**
 * registries.conf's short-name settings for a lookup. A name with a registry
 * needs none; a short name that a broken registries.conf cannot resolve is not
 * known, as podman reports it (the hint says why).
 */
function shortNameSettings(nameOrId: string): ShortNameSettings {
  if (!isShortName(nameOrId) || /^(?:sha256:)?[a-f0-9]{64}$/.test(nameOrId)) return emptyRegistriesConf();
  try {
    return loadRegistriesConf(process.env);
  } catch (error) {
    throw new ImageNotKnownError(nameOrId, undefined, `the short name cannot be resolved: ${messageOf(error)}`);
  }
}

function namesOf(index: Index, digest: Digest): string[] {
  return index.manifests
    .filter((e) => e.digest === digest)
    .map(refNameOf)
    .filter((n): n is string => n !== undefined);
}

/** Creates a file with this content unless it exists (link(2) refuses to replace it). */
function createIfMissing(path: string, content: string, tmpDir: string): void {
  if (ifExists(() => statSync(path)) !== undefined) return;
  // The temp file is flocked in tmp/ while it exists, so that garbage collection never takes it for a leftover.
  createFileAtomic(path, content, { tempDir: tmpDir });
}

/**
 * Rewrites an ENOSPC (or EDQUOT) anywhere in the cause chain as one line naming
 * the storage path; other errors pass through.
 */
export function storageError(error: unknown, storageDir: string, context: string): unknown {
  const full = causeChain(error).find((e) => {
    const code = (e as { code?: unknown }).code;
    return code === 'ENOSPC' || code === 'EDQUOT';
  }) as { code: string } | undefined;
  if (full === undefined) return error;
  const what = full.code === 'ENOSPC' ? 'no space left on device' : 'disk quota exceeded';
  return new HutchError(`${context}: ${full.code}: ${what}, writing to ${storageDir}`, {
    hint: `free some space there (hutch image prune, hutch rmi), or set XDG_DATA_HOME to a larger file system`,
    cause: error,
  });
}

/** Who runs this command, and their store: enters the session first (every store command needs it). */
export async function openUserStore(
  env: NodeJS.ProcessEnv = process.env,
  options: { reap?: boolean } = {},
): Promise<{ store: ImageStore; identity: Identity }> {
  const identity = currentIdentity(env);
  await enterSession(identity, env);
  const { storage } = resolvePaths(env, identity.uid);
  return { store: ImageStore.open(storage, options), identity };
}
