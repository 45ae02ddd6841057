/**
 * --cache-from / --cache-to: the layer cache in a registry, as buildah keeps
 * it. Each step is a small image in the cache repository tagged with the
 * step's cache key: an OCI manifest whose config names the step's layer (or
 * none, for a step that changed no file) and the time the step was first
 * made. A fresh CI runner asks the repository for each key it does not have
 * locally, pulls the layer (digest and diff id verified as in a pull), and
 * goes on as if the step had been cached here, so it makes the same image.
 *
 * Exports run in the background while the build goes on; the build waits
 * for them before it returns, and a failed export fails the build (the image
 * itself is committed by then), because a CI job that asked for a cache and
 * silently has none would rebuild everything next time without saying why.
 */
import { HutchError, messageOf, withContext } from '../errors.js';
import type { Digest } from '../image/digest.js';
import { digestOf } from '../image/digest.js';
import { parseImageConfig, parseManifestDocument } from '../image/manifest.js';
import { layerCompression, MediaType } from '../image/media.js';
import type { Descriptor, ImageConfig, Manifest, Platform } from '../image/oci.js';
import type { Progress } from '../image/progress.js';
import { pullLayer, registryClientFor, type RegistryAccess } from '../image/pull.js';
import { pushBlob } from '../image/push.js';
import { hasExplicitTag, parseReference, repositoryName, type ImageReference } from '../image/reference.js';
import { defaultRegistry } from '../image/registries-conf/load.js';
import type { RegistryClient } from '../image/registry/client.js';
import type { ImageStore } from '../image/store/store.js';
import type { CacheEntry } from './cache.js';

// Cache layers move without progress lines: the build's own output says what happens.
const QUIET: Progress = { blob: () => ({ advance() {}, finish() {} }), note() {}, close() {} };
const MAX_CACHE_CONFIG = 64 * 1024;

/** A cache repository: `REGISTRY/REPO`, no tag or digest (the tags are the cache keys). */
export function parseCacheRepository(flag: string, text: string, env: NodeJS.ProcessEnv): ImageReference {
  const ref = parseReference(text, defaultRegistry(env));
  if (hasExplicitTag(text) || ref.digest !== undefined) {
    throw new HutchError(`${flag} ${text}: a cache repository has no tag or digest`, {
      hint: `give the repository alone, e.g. ${flag} ${repositoryName(ref)} (hutch tags each cached step by its key)`,
    });
  }
  return ref;
}

interface Repository {
  ref: ImageReference;
  name: string;
  client: RegistryClient;
}

export interface RemoteCacheOptions {
  from: string[];
  to: string[];
  access: RegistryAccess;
  platform: Platform;
  /** Layers are unpacked with user xattrs standing for what an unprivileged store cannot write. */
  rootless: boolean;
  /** Says a cache repository could not be read (once per repository); the build goes on without it. */
  warn: (text: string) => void;
}

export class RemoteCache {
  private readonly from: Repository[];
  private readonly to: Repository[];
  private readonly unreadable = new Set<string>();
  private readonly exports: Promise<void>[] = [];
  /** Exports go out one at a time per repository, in step order. */
  private readonly tails = new Map<string, Promise<void>>();
  private failure: unknown;

  constructor(
    private readonly store: ImageStore,
    private readonly options: RemoteCacheOptions,
    env: NodeJS.ProcessEnv,
  ) {
    const open = (flag: string, text: string): Repository => {
      const ref = parseCacheRepository(flag, text, env);
      return { ref, name: repositoryName(ref), client: registryClientFor(ref, options.access, env) };
    };
    this.from = options.from.map((text) => open('--cache-from', text));
    this.to = options.to.map((text) => open('--cache-to', text));
  }

  get exporting(): boolean {
    return this.to.length > 0;
  }

  /**
   * The entry a cache repository has for a key, with its layer pulled into
   * the store; undefined when none has it. A repository that cannot be read
   * is warned about once and not asked again.
   */
  async lookup(key: string): Promise<CacheEntry | undefined> {
    for (const repo of this.from) {
      if (this.unreadable.has(repo.name)) continue;
      try {
        const found = await this.fetch(repo, key);
        if (found !== undefined) return found;
      } catch (error) {
        this.unreadable.add(repo.name);
        this.options.warn(`--cache-from ${repo.name}: ${messageOf(error)}; building without it`);
      }
    }
    return undefined;
  }

  private async fetch(repo: Repository, key: string): Promise<CacheEntry | undefined> {
    const head = await repo.client.headManifest(repo.ref.repository, key, [MediaType.ociManifest]);
    if (head === undefined) return undefined;
    const got = await repo.client.getManifest(repo.ref.repository, head.digest, [MediaType.ociManifest]);
    const what = `cache ${repo.name}:${key.slice(0, 12)}`;
    const document = parseManifestDocument(got.body, got.mediaType, what);
    if (document.kind !== 'manifest' || document.manifest.layers.length > 1) {
      throw new HutchError(`${what} is not a build cache entry (one manifest, at most one layer)`);
    }
    const manifest = document.manifest;
    if (manifest.config.size > MAX_CACHE_CONFIG) {
      throw new HutchError(
        `${what}: its config is ${manifest.config.size} bytes, more than a cache entry's ${MAX_CACHE_CONFIG}`,
      );
    }
    // As a pull reads a config: stored (digest and size checked as it streams), then read back bounded.
    if (!this.store.blobs.has(manifest.config.digest)) {
      await this.store.blobs.write(await repo.client.getBlob(repo.ref.repository, manifest.config), manifest.config);
    }
    const configBody = await this.store.blobs.readBuffer(manifest.config.digest, MAX_CACHE_CONFIG);
    const config = parseImageConfig(configBody, manifest.layers.length, `${what} config`);
    const created = config.created;
    if (typeof created !== 'string') throw new HutchError(`${what}: the config has no created time`);
    const blob = manifest.layers[0];
    if (blob === undefined) return { layer: undefined, created };
    const compression = layerCompression(blob.mediaType);
    if (compression === undefined) throw new HutchError(`${what}: layer media type ${blob.mediaType} is not a layer`);
    const diffId = config.rootfs.diff_ids[0] as Digest;
    await pullLayer(this.store, repo.client, repo.ref, blob, diffId, QUIET, this.options.rootless);
    return { layer: { diffId, blob: { mediaType: blob.mediaType, digest: blob.digest, size: blob.size } }, created };
  }

  /** Sends a step's entry to every --cache-to repository, in the background. */
  export(key: string, entry: CacheEntry): void {
    for (const repo of this.to) {
      const previous = this.tails.get(repo.name) ?? Promise.resolve();
      const next = previous.then(async () => {
        if (this.failure !== undefined) return;
        try {
          await this.send(repo, key, entry);
        } catch (error) {
          this.failure ??= withContext('cache', `--cache-to ${repo.name}: step ${key.slice(0, 12)}`, error);
        }
      });
      this.tails.set(repo.name, next);
      this.exports.push(next);
    }
  }

  private async send(repo: Repository, key: string, entry: CacheEntry): Promise<void> {
    const config: ImageConfig = {
      created: entry.created,
      architecture: this.options.platform.architecture,
      os: this.options.platform.os,
      config: {},
      rootfs: { type: 'layers', diff_ids: entry.layer === undefined ? [] : [entry.layer.diffId] },
      history: [{ created: entry.created, created_by: `hutch build cache ${key}` }],
    };
    const configBody = Buffer.from(JSON.stringify(config));
    const configDescriptor: Descriptor = {
      mediaType: MediaType.ociConfig,
      digest: digestOf(configBody),
      size: configBody.length,
    };
    const manifest: Manifest = {
      schemaVersion: 2,
      mediaType: MediaType.ociManifest,
      config: configDescriptor,
      layers: entry.layer === undefined ? [] : [entry.layer.blob],
    };
    const body = Buffer.from(JSON.stringify(manifest));
    const there = await repo.client.headManifest(repo.ref.repository, key, [MediaType.ociManifest]);
    if (there?.digest === digestOf(body)) return;
    // The config goes through the store too, so that one upload path (push.ts) sends both blobs.
    await this.store.blobs.write(configBody, configDescriptor);
    for (const blob of entry.layer === undefined ? [configDescriptor] : [entry.layer.blob, configDescriptor]) {
      await pushBlob(repo.client, this.store, this.store.storageDir, repo.ref, blob, undefined, QUIET);
    }
    await repo.client.putManifest(repo.ref.repository, key, MediaType.ociManifest, body);
  }

  /** Waits for every export; throws the first failure, naming the repository and the step. */
  async flush(): Promise<void> {
    await Promise.all(this.exports);
    if (this.failure !== undefined) throw this.failure;
  }

  /**
   * Lets running exports end (a failed build keeps its completed steps' entries), then closes the
   * connections; an interrupted build does not wait for them.
   */
  async close(options: { interrupted: boolean }): Promise<void> {
    if (!options.interrupted) await Promise.allSettled(this.exports);
    for (const repo of [...this.from, ...this.to]) repo.client.close();
  }
}
