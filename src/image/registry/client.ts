/**
 * hutch's client of the OCI distribution API (distribution-spec 1.1; Docker's
 * registry API v2): manifests, blobs, uploads, tags, referrers, for one
 * registry. The calls and what they mean are here and in blob-transfer.ts
 * (blobs and uploads); how a request travels (scheme probe, auth, retries,
 * redirects) is transport.ts.
 *
 * Contracts:
 * - Everything read is verified: manifests against the digest asked for and
 *   the registry's Docker-Content-Digest, blobs (VerifyingStream) against their
 *   descriptor's digest AND size, including a registry that stops early or
 *   sends too much. Manifests are capped at 4 MiB.
 * - Requests follow transport.ts's contracts: one keep-alive agent per client,
 *   HTTPS with a plain-HTTP fallback only where allowed, 401 answered by the
 *   auth flow, 429 and 5xx retried, redirects followed for reads.
 */
import type { Readable } from 'node:stream';
import { HutchError } from '../../errors.js';
import { DigestMismatchError, algorithmOf, digestOf, hexOf, isDigest, parseDigest, type Digest } from '../digest.js';
import { MediaType } from '../media.js';
import type { Descriptor, Index } from '../oci.js';
import {
  blobExists,
  getBlob,
  mountBlob,
  pushBlob,
  type BlobStream,
  type GetBlobOptions,
  type PushBlobOptions,
} from './blob-transfer.js';
import { repositoryScope } from './challenge.js';
import { RegistryError, describeSubject, type Subject } from './errors.js';
import {
  MAX_MANIFEST_BYTES,
  RegistryTransport,
  checkName,
  checkReference,
  header,
  nextLink,
  type RegistryClientOptions,
} from './transport.js';

export type { Credentials } from './auth.js';
export type { RegistryClientOptions } from './transport.js';
export { BlobStream, type GetBlobOptions, type PushBlobOptions } from './blob-transfer.js';
export { MAX_MANIFEST_BYTES } from './transport.js';

export interface ManifestResponse {
  mediaType: string;
  digest: Digest;
  body: Buffer;
}

export interface ManifestHead {
  digest: Digest;
  mediaType: string;
  size: number;
}

const MAX_PAGES = 1000;

export const DEFAULT_MANIFEST_TYPES = [
  MediaType.ociIndex,
  MediaType.ociManifest,
  MediaType.dockerManifestList,
  MediaType.dockerManifest,
];

function mediaTypeOf(contentType: string | undefined): string | undefined {
  const type = contentType?.split(';')[0]?.trim();
  return type === undefined || type === '' ? undefined : type;
}

export class RegistryClient {
  readonly registry: string;
  /** The host requests go to (docker.io → registry-1.docker.io). */
  readonly host: string;
  private readonly transport: RegistryTransport;

  constructor(options: RegistryClientOptions) {
    this.transport = new RegistryTransport(options);
    this.registry = this.transport.registry;
    this.host = this.transport.host;
  }

  /** Ends the client: destroys its sockets, idle ones and any still in use (their requests fail). */
  close(): void {
    this.transport.close();
  }

  // ---------------------------------------------------------------- the API

  /** GET /v2/ with the auth flow: checks that the registry answers and accepts our credentials. */
  async ping(): Promise<void> {
    const { res } = await this.transport.send({
      method: 'GET',
      target: '/v2/',
      scopes: [],
      subject: { kind: 'registry' },
      ok: [200],
    });
    res.resume();
  }

  /**
   * A manifest or index by tag or digest. The body is returned byte for byte;
   * its digest is computed and must equal the digest asked for and the one the
   * registry reports.
   */
  async getManifest(repository: string, reference: string, accept: string[]): Promise<ManifestResponse> {
    const subject: Subject = { kind: 'manifest', repository, reference };
    const { res } = await this.transport.send({
      method: 'GET',
      target: `/v2/${checkName(repository)}/manifests/${checkReference(reference)}`,
      headers: { accept: (accept.length > 0 ? accept : DEFAULT_MANIFEST_TYPES).join(', ') },
      scopes: [repositoryScope(repository, 'pull')],
      subject,
      ok: [200],
      followRedirects: true,
    });
    const what = `manifest ${describeSubject(subject)} from ${this.registry}`;
    const body = await this.transport.readBody(res, MAX_MANIFEST_BYTES, what);
    const asked = isDigest(reference) ? reference : undefined;
    const computed = digestOf(body, asked === undefined ? 'sha256' : algorithmOf(asked));
    if (asked !== undefined && computed !== asked) {
      throw new DigestMismatchError(what, { digest: asked }, { digest: computed, size: body.length });
    }
    const reported = header(res, 'docker-content-digest');
    if (reported !== undefined) {
      const claimed = parseDigest(reported.trim(), `the Docker-Content-Digest of ${what}`);
      const actual = algorithmOf(claimed) === algorithmOf(computed) ? computed : digestOf(body, algorithmOf(claimed));
      if (actual !== claimed) {
        throw new DigestMismatchError(what, { digest: claimed }, { digest: actual, size: body.length });
      }
    }
    let mediaType: string | undefined;
    try {
      const json = JSON.parse(body.toString('utf8')) as { mediaType?: unknown };
      if (typeof json.mediaType === 'string' && json.mediaType !== '') mediaType = json.mediaType;
    } catch {
      // not JSON: the caller's parser says so; the media type comes from the header
    }
    mediaType ??= mediaTypeOf(header(res, 'content-type')) ?? '';
    return { mediaType, digest: asked ?? computed, body };
  }

  /** HEAD of a manifest: its digest, media type and size; undefined when the registry has none (404). */
  async headManifest(repository: string, reference: string, accept: string[]): Promise<ManifestHead | undefined> {
    const subject: Subject = { kind: 'manifest', repository, reference };
    const { res } = await this.transport.send({
      method: 'HEAD',
      target: `/v2/${checkName(repository)}/manifests/${checkReference(reference)}`,
      headers: { accept: (accept.length > 0 ? accept : DEFAULT_MANIFEST_TYPES).join(', ') },
      scopes: [repositoryScope(repository, 'pull')],
      subject,
      ok: [200, 404],
      followRedirects: true,
    });
    res.resume();
    if (res.statusCode === 404) return undefined;
    const reported = header(res, 'docker-content-digest');
    const length = Number(header(res, 'content-length'));
    if (reported === undefined || !Number.isSafeInteger(length)) {
      // Without a digest (or a size) a HEAD says nothing we can rely on: read the manifest.
      const got = await this.getManifest(repository, reference, accept);
      return { digest: got.digest, mediaType: got.mediaType, size: got.body.length };
    }
    const what = `manifest ${describeSubject(subject)} from ${this.registry}`;
    const digest = parseDigest(reported.trim(), `the Docker-Content-Digest of ${what}`);
    if (isDigest(reference) && algorithmOf(reference) === algorithmOf(digest) && digest !== reference) {
      throw new DigestMismatchError(what, { digest: reference }, { digest, size: length });
    }
    return {
      digest: isDigest(reference) ? reference : digest,
      mediaType: mediaTypeOf(header(res, 'content-type')) ?? '',
      size: length,
    };
  }
  /**
   * The bytes of a blob, checked against the descriptor's digest and size as
   * they stream: the stream fails (naming the blob and the bytes received) when
   * the content differs, the registry stops early or sends too much.
   */
  getBlob(repository: string, descriptor: Descriptor, options: GetBlobOptions = {}): Promise<BlobStream> {
    return getBlob(this.transport, repository, descriptor, options);
  }

  /** Is the blob in the repository? (HEAD; 404 → false.) */
  blobExists(repository: string, digest: Digest): Promise<boolean> {
    return blobExists(this.transport, repository, digest);
  }

  /**
   * Cross-repository mount: true when the registry mounted the blob from
   * `fromRepository` (201); false when it started an upload instead (202),
   * which is cancelled here.
   */
  mountBlob(repository: string, digest: Digest, fromRepository: string): Promise<boolean> {
    return mountBlob(this.transport, repository, digest, fromRepository);
  }

  /**
   * Uploads a blob: POST for an upload, then one PUT with the whole content
   * (or PATCH chunks and a closing PUT with the digest). `open(start)` gives
   * the content from an offset; it is called again when a request is retried.
   * Does not check whether the blob exists: the caller does.
   */
  pushBlob(
    repository: string,
    descriptor: Descriptor,
    open: (start: number) => Readable,
    options: PushBlobOptions = {},
  ): Promise<void> {
    return pushBlob(this.transport, repository, descriptor, open, options);
  }

  /** Stores a manifest under a tag or its digest; returns its digest (checked against the registry's). */
  async putManifest(repository: string, reference: string, mediaType: string, body: Buffer): Promise<Digest> {
    const digest = digestOf(body, isDigest(reference) ? algorithmOf(reference) : 'sha256');
    const what = `manifest ${repository}${isDigest(reference) ? '@' : ':'}${reference} for ${this.registry}`;
    if (isDigest(reference) && reference !== digest) {
      throw new DigestMismatchError(what, { digest: reference }, { digest, size: body.length });
    }
    const { res } = await this.transport.send({
      method: 'PUT',
      target: `/v2/${checkName(repository)}/manifests/${checkReference(reference)}`,
      headers: { 'content-type': mediaType },
      body: { length: body.length, open: () => body },
      scopes: [repositoryScope(repository, 'pull', 'push')],
      subject: { kind: 'manifest', repository, reference },
      ok: [201],
    });
    res.resume();
    const reported = header(res, 'docker-content-digest');
    if (reported !== undefined) {
      const claimed = parseDigest(reported.trim(), `the Docker-Content-Digest of ${what}`);
      const ours = algorithmOf(claimed) === algorithmOf(digest) ? digest : digestOf(body, algorithmOf(claimed));
      if (claimed !== ours) {
        throw new DigestMismatchError(
          `${what}: the registry stored`,
          { digest: ours },
          { digest: claimed, size: body.length },
        );
      }
    }
    return digest;
  }

  /**
   * The manifests that refer to `digest` (their `subject`), as an OCI index:
   * the referrers API of distribution-spec 1.1, or, where it is missing (404),
   * the tag `sha256-<hex>` that the spec's fallback keeps up to date.
   */
  async referrers(repository: string, digest: Digest, artifactType?: string): Promise<Index> {
    const subject: Subject = { kind: 'referrers', repository, reference: digest };
    const query = artifactType === undefined ? '' : `?${new URLSearchParams({ artifactType }).toString()}`;
    let target: string | URL = `/v2/${checkName(repository)}/referrers/${checkReference(digest)}${query}`;
    const manifests: Descriptor[] = [];
    let index: Index | undefined;
    for (let page = 0; page < MAX_PAGES; page++) {
      const sent = await this.transport.send({
        method: 'GET',
        target,
        headers: { accept: MediaType.ociIndex },
        scopes: [repositoryScope(repository, 'pull')],
        subject,
        ok: [200, 404],
        followRedirects: true,
      });
      if (sent.res.statusCode === 404) {
        sent.res.resume();
        if (page > 0) break;
        return this.referrersByTag(repository, digest, artifactType);
      }
      const body = await this.transport.readBody(
        sent.res,
        MAX_MANIFEST_BYTES,
        `${describeSubject(subject)} from ${this.registry}`,
      );
      const got = this.parseIndex(body, `${describeSubject(subject)} from ${this.registry}`);
      index ??= got;
      manifests.push(...got.manifests);
      const next = nextLink(sent.res, sent.url);
      if (next === undefined) break;
      target = next;
    }
    return filterReferrers({ ...(index ?? emptyIndex()), manifests }, artifactType);
  }

  /** Every tag of a repository, following the Link pagination. */
  async listTags(repository: string): Promise<string[]> {
    const subject: Subject = { kind: 'tags', repository };
    let target: string | URL = `/v2/${checkName(repository)}/tags/list`;
    const tags: string[] = [];
    for (let page = 0; page < MAX_PAGES; page++) {
      const sent = await this.transport.send({
        method: 'GET',
        target,
        headers: { accept: 'application/json' },
        scopes: [repositoryScope(repository, 'pull')],
        subject,
        ok: [200],
        followRedirects: true,
      });
      const what = `${describeSubject(subject)} from ${this.registry}`;
      const body = await this.transport.readBody(sent.res, MAX_MANIFEST_BYTES, what);
      let json: { tags?: unknown };
      try {
        json = JSON.parse(body.toString('utf8')) as typeof json;
      } catch {
        throw new HutchError(`${what}: the answer is not JSON`);
      }
      if (Array.isArray(json.tags)) tags.push(...json.tags.filter((t): t is string => typeof t === 'string'));
      const next = nextLink(sent.res, sent.url);
      if (next === undefined) break;
      target = next;
    }
    return tags;
  }

  // ---------------------------------------------------------------- helpers of the API

  private async referrersByTag(repository: string, digest: Digest, artifactType?: string): Promise<Index> {
    const tag = `${algorithmOf(digest)}-${hexOf(digest)}`.slice(0, 128);
    try {
      const got = await this.getManifest(repository, tag, [MediaType.ociIndex]);
      return filterReferrers(
        this.parseIndex(got.body, `referrers tag ${repository}:${tag} from ${this.registry}`),
        artifactType,
      );
    } catch (error) {
      if (error instanceof RegistryError && error.status === 404) return emptyIndex();
      throw error;
    }
  }

  private parseIndex(body: Buffer, what: string): Index {
    let json: Partial<Index>;
    try {
      json = JSON.parse(body.toString('utf8')) as Partial<Index>;
    } catch {
      throw new HutchError(`${what}: the index is not JSON`);
    }
    if (json === null || typeof json !== 'object' || !Array.isArray(json.manifests)) {
      throw new HutchError(`${what}: not an OCI index (no manifests array)`);
    }
    return json as Index;
  }
}

function emptyIndex(): Index {
  return { schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: [] };
}

function filterReferrers(index: Index, artifactType: string | undefined): Index {
  if (artifactType === undefined) return index;
  return { ...index, manifests: index.manifests.filter((d) => d.artifactType === artifactType) };
}
