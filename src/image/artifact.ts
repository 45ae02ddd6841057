/**
 * Generic OCI artifacts (what ORAS does): files pushed as the layers of an OCI
 * 1.1 image manifest with an artifactType and the empty config, pulled back
 * by their titles, and attached to another manifest through `subject` so the
 * referrers API (or its tag-schema fallback) lists them. Straight between the
 * files and the registry: no image store, no user namespace.
 */
import { createReadStream, mkdirSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { HutchError, withContext } from '../errors.js';
import { digestOf, HashingStream, hexOf, isDigest, type Digest } from './digest.js';
import { parseManifestDocument } from './manifest.js';
import { MediaType } from './media.js';
import { TitleAnnotation, type Descriptor, type Index, type Manifest } from './oci.js';
import { inParallel, registryClientFor, type RegistryAccess } from './pull.js';
import type { Progress } from './progress.js';
import { formatReference, hasExplicitTag, parseReference } from './reference.js';
import { defaultRegistry } from './registries-conf/load.js';
import type { RegistryClient } from './registry/client.js';
import { writeStreamAtomic } from '../fs/atomic-write.js';

export const DEFAULT_ARTIFACT_TYPE = 'application/vnd.unknown.artifact.v1';
export const DEFAULT_FILE_MEDIA_TYPE = 'application/vnd.oci.image.layer.v1.tar';

const EMPTY_CONFIG: Descriptor = {
  mediaType: MediaType.ociEmpty,
  digest: digestOf('{}'),
  size: 2,
  data: 'e30=',
};

export interface ArtifactFile {
  path: string;
  /** The layer's media type; DEFAULT_FILE_MEDIA_TYPE when undefined. */
  mediaType: string | undefined;
}

export interface ArtifactPushOptions extends RegistryAccess {
  reference: string;
  files: ArtifactFile[];
  artifactType: string | undefined;
  annotations: Record<string, string>;
  /** A tag or digest of the same repository that this artifact refers to. */
  subject: string | undefined;
  progress: Progress;
}

async function hashFile(path: string): Promise<{ digest: Digest; size: number }> {
  const hashing = new HashingStream();
  await pipeline(createReadStream(path), hashing, new Writable({ write: (_chunk, _encoding, done) => done() }));
  return { digest: hashing.digest(), size: hashing.size };
}

/** A file name from a manifest, safe to create in the output directory. */
function safeTitle(title: string, what: string): string {
  if (title === '' || title === '.' || title === '..' || title.includes('/') || title.includes('\0')) {
    throw new HutchError(`${what}: the file name ${JSON.stringify(title)} would leave the output directory`, {
      hint: 'this artifact is not safe to pull',
    });
  }
  return title;
}

export async function pushArtifact(
  options: ArtifactPushOptions,
  env: NodeJS.ProcessEnv = process.env,
): Promise<Digest> {
  const ref = parseReference(options.reference, defaultRegistry(env));
  const name = formatReference(ref);
  const client = registryClientFor(ref, options, env);
  try {
    if (options.files.length === 0) throw new HutchError('no files to push', { hint: 'hutch artifact push REF FILE…' });
    const titles = new Set<string>();
    const layers: Descriptor[] = [];
    for (const file of options.files) {
      const title = basename(file.path);
      if (titles.has(title))
        throw new HutchError(`two files are named ${title}`, { hint: 'file names must be unique in an artifact' });
      titles.add(title);
      if (!statSync(file.path).isFile()) throw new HutchError(`${file.path} is not a regular file`);
      const { digest, size } = await hashFile(file.path);
      layers.push({
        mediaType: file.mediaType ?? DEFAULT_FILE_MEDIA_TYPE,
        digest,
        size,
        annotations: { [TitleAnnotation]: title },
      });
    }
    let subject: Descriptor | undefined;
    if (options.subject !== undefined) {
      const found = await client.headManifest(ref.repository, options.subject, [
        MediaType.ociManifest,
        MediaType.ociIndex,
        MediaType.dockerManifest,
        MediaType.dockerManifestList,
      ]);
      if (found === undefined)
        throw new HutchError(`subject ${options.subject} not found in ${ref.registry}/${ref.repository}`);
      subject = { mediaType: found.mediaType, digest: found.digest, size: found.size };
    }
    const paths = new Map(layers.map((l, i) => [l.digest, options.files[i]?.path as string]));
    await inParallel([EMPTY_CONFIG, ...layers], 3, async (blob) => {
      const bar = options.progress.blob(blob.digest, blob.size);
      if (await client.blobExists(ref.repository, blob.digest)) return bar.finish('exists');
      const path = paths.get(blob.digest);
      await client.pushBlob(
        ref.repository,
        blob,
        (start) => {
          // The empty config is the only blob without a file.
          if (path === undefined) return Readable.from([Buffer.from('{}').subarray(start)]);
          const stream = createReadStream(path, { start });
          stream.on('data', (chunk) => bar.advance(chunk.length));
          return stream;
        },
        {},
      );
      bar.finish('done');
    });
    const manifest: Manifest = {
      schemaVersion: 2,
      mediaType: MediaType.ociManifest,
      artifactType: options.artifactType ?? DEFAULT_ARTIFACT_TYPE,
      config: EMPTY_CONFIG,
      layers,
      ...(subject === undefined ? {} : { subject }),
      ...(Object.keys(options.annotations).length === 0 ? {} : { annotations: options.annotations }),
    };
    const body = Buffer.from(JSON.stringify(manifest));
    const digest = digestOf(body);
    options.progress.note('Writing manifest to artifact destination');
    // Without a tag of its own (a signature, an SBOM) it is pushed by digest, as oras does.
    const tag = hasExplicitTag(options.reference) ? ref.tag : undefined;
    await client.putManifest(ref.repository, tag ?? digest, MediaType.ociManifest, body);
    if (subject !== undefined) {
      await ensureReferrer(client, ref.repository, subject.digest, {
        mediaType: MediaType.ociManifest,
        digest,
        size: body.length,
        artifactType: manifest.artifactType,
        ...(manifest.annotations === undefined ? {} : { annotations: manifest.annotations }),
      });
    }
    return digest;
  } catch (error) {
    throw withContext('artifact', `push artifact ${name}`, error);
  } finally {
    options.progress.close();
  }
}

/**
 * Registries with the referrers API index `subject` themselves. The others
 * (Debian's docker-registry 2.8) need the client to keep the tag-schema index
 * `sha256-<hex>` up to date (distribution-spec 1.1, "Pushing manifests with subject").
 */
async function ensureReferrer(
  client: RegistryClient,
  repository: string,
  subject: Digest,
  referrer: Descriptor,
): Promise<void> {
  const listed = await client.referrers(repository, subject);
  if (listed.manifests.some((m) => m.digest === referrer.digest)) return;
  const tag = `${subject.slice(0, subject.indexOf(':'))}-${hexOf(subject)}`;
  const index: Index = {
    ...listed,
    schemaVersion: 2,
    mediaType: MediaType.ociIndex,
    manifests: [...listed.manifests, referrer],
  };
  await client.putManifest(repository, tag, MediaType.ociIndex, Buffer.from(JSON.stringify(index)));
}

export interface ArtifactPullOptions extends RegistryAccess {
  reference: string;
  output: string;
  progress: Progress;
}

/** Downloads every titled file of an artifact into output; returns the paths written. */
export async function pullArtifact(
  options: ArtifactPullOptions,
  env: NodeJS.ProcessEnv = process.env,
): Promise<string[]> {
  const ref = parseReference(options.reference, defaultRegistry(env));
  const name = formatReference(ref);
  const client = registryClientFor(ref, options, env);
  try {
    const fetched = await client.getManifest(ref.repository, ref.digest ?? (ref.tag as string), [
      MediaType.ociManifest,
    ]);
    const document = parseManifestDocument(fetched.body, fetched.mediaType, name);
    if (document.kind !== 'manifest') throw new HutchError(`${name} is an index, not an artifact`);
    const files = document.manifest.layers.filter((l) => l.annotations?.[TitleAnnotation] !== undefined);
    if (files.length === 0)
      throw new HutchError(`${name} has no files (no layer has an ${TitleAnnotation} annotation)`);
    const titles = files.map((f) => safeTitle(f.annotations?.[TitleAnnotation] as string, name));
    if (new Set(titles).size !== titles.length) throw new HutchError(`${name} names a file twice`);
    mkdirSync(options.output, { recursive: true });
    const written: string[] = [];
    await inParallel(files, 3, async (layer, i) => {
      const target = join(options.output, titles[i] as string);
      const bar = options.progress.blob(layer.digest, layer.size);
      try {
        const source = await client.getBlob(ref.repository, layer);
        source.on('data', (chunk: Buffer) => bar.advance(chunk.length));
        await writeStreamAtomic(target, (out) => pipeline(source, out), { mode: 0o644 });
        written.push(target);
        bar.finish('done');
      } catch (error) {
        bar.finish('failed');
        throw error;
      }
    });
    return written;
  } catch (error) {
    throw withContext('artifact', `pull artifact ${name}`, error);
  } finally {
    options.progress.close();
  }
}

export interface ReferrersOptions extends RegistryAccess {
  reference: string;
  artifactType: string | undefined;
}

/** The manifests that refer to an image or artifact (their subject is it). */
export async function listReferrers(
  options: ReferrersOptions,
  env: NodeJS.ProcessEnv = process.env,
): Promise<Descriptor[]> {
  const ref = parseReference(options.reference, defaultRegistry(env));
  const client = registryClientFor(ref, options, env);
  try {
    let digest = ref.digest;
    if (digest === undefined) {
      const found = await client.headManifest(ref.repository, ref.tag as string, [
        MediaType.ociManifest,
        MediaType.ociIndex,
        MediaType.dockerManifest,
        MediaType.dockerManifestList,
      ]);
      if (found === undefined) throw new HutchError(`${formatReference(ref)} not found`);
      digest = found.digest;
    }
    if (!isDigest(digest)) throw new HutchError(`bad digest ${digest}`);
    return (await client.referrers(ref.repository, digest, options.artifactType)).manifests;
  } catch (error) {
    throw withContext('artifact', `referrers of ${formatReference(ref)}`, error);
  }
}
