/**
 * hutch's client of the OCI distribution API (distribution-spec 1.1; Docker's
 * registry API v2): manifests, blobs, uploads, tags, referrers, for one
 * registry.
 *
 * Contracts:
 * - Everything read is verified: manifests against the digest asked for and
 *   the registry's Docker-Content-Digest, blobs (VerifyingStream) against their
 *   descriptor's digest AND size, including a registry that stops early or
 *   sends too much. Manifests are capped at 4 MiB.
 * - Requests go over node:http(s) with one keep-alive agent per client and a
 *   bounded number of sockets. The scheme is found once per client by GET
 *   /v2/: HTTPS, verified unless tlsVerify is false; plain HTTP as a fallback
 *   when tlsVerify is false or the registry is on the loopback (docker's rule).
 * - 401 runs the auth flow (auth.ts) and retries once; 429 waits for
 *   Retry-After (3 attempts in all); 500/502/503/504 and dropped connections
 *   are retried twice with backoff; redirects are followed for reads, without
 *   Authorization when the host changes.
 */
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import { Readable, Transform, pipeline, type TransformCallback } from 'node:stream';
import { HutchError } from '../../errors.js';
import { version } from '../../package.js';
import {
  DigestMismatchError,
  VerifyingStream,
  algorithmOf,
  digestOf,
  hexOf,
  isDigest,
  parseDigest,
  type Digest,
} from '../digest.js';
import { MediaType } from '../media.js';
import type { Descriptor, Index } from '../oci.js';
import { Authenticator, type Credentials } from './auth.js';
import { repositoryScope } from './challenge.js';
import {
  RegistryError,
  isTlsError,
  parseErrorBody,
  rateLimited,
  responseError,
  unreachable,
  describeSubject,
  type Subject,
} from './errors.js';

export type { Credentials } from './auth.js';

export interface RegistryClientOptions {
  /** `host[:port]` as in image references; docker.io talks to registry-1.docker.io. */
  registry: string;
  /** Verify HTTPS certificates (default true). False: unverified HTTPS, then plain HTTP. */
  tlsVerify?: boolean;
  credentials?: Credentials;
  userAgent?: string;
  /** Inactivity timeout of a request, in ms (default 60 s). */
  timeoutMs?: number;
  /** The first retry delay after a 5xx or a dropped connection, in ms (default 500), doubled each time. */
  retryDelayMs?: number;
  /** Sockets per host (default 8). */
  maxSockets?: number;
}

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

export interface GetBlobOptions {
  /**
   * Resume: ask for the bytes from this offset on (a Range request). The
   * digest covers the whole blob, so `prefix` must give the `start` bytes
   * already held. The returned stream's `start` says where its bytes begin:
   * 0 when the registry ignored the Range (the caller starts over).
   */
  start?: number;
  prefix?: () => Readable;
}

export interface PushBlobOptions {
  /** Upload in PATCH chunks of this many bytes (default: one monolithic PUT). */
  chunkSize?: number;
}

export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
const MAX_ERROR_BODY = 64 * 1024;
const MAX_REDIRECTS = 10;
const MAX_ATTEMPTS = 3;
const MAX_RETRY_AFTER_S = 60;
const MAX_PAGES = 1000;

export const DEFAULT_MANIFEST_TYPES = [
  MediaType.ociIndex,
  MediaType.ociManifest,
  MediaType.dockerManifestList,
  MediaType.dockerManifest,
];

type Method = 'GET' | 'HEAD' | 'PUT' | 'POST' | 'PATCH' | 'DELETE';

interface Body {
  length: number;
  /** Called for each attempt: a body can be sent again after a 401 or a 5xx. */
  open: () => Readable | Buffer;
}

interface SendRequest {
  method: Method;
  /** A path below the registry (`/v2/…`) or an absolute URL (an upload location). */
  target: string | URL;
  headers?: Record<string, string>;
  body?: Body;
  scopes: string[];
  subject: Subject;
  /** Statuses handed back to the caller; any other becomes a RegistryError. */
  ok: number[];
  followRedirects?: boolean;
}

interface Sent {
  res: IncomingMessage;
  /** The URL that answered (after redirects), to resolve relative Location and Link headers. */
  url: URL;
}

/** A failure of the body we were sending, not of the network: never retried, passed on as is. */
class SourceError extends Error {
  constructor(readonly source: unknown) {
    super('request body failed');
  }
}

/** A stream of blob bytes; `start` is the offset of its first byte in the blob. */
export class BlobStream extends Transform {
  private skip: number;

  constructor(
    readonly start: number,
    /** Bytes to drop first: the verified prefix that the caller already holds. */
    skip: number,
  ) {
    super();
    this.skip = skip;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (this.skip >= chunk.length) {
      this.skip -= chunk.length;
      callback();
      return;
    }
    const rest = this.skip > 0 ? chunk.subarray(this.skip) : chunk;
    this.skip = 0;
    callback(null, rest);
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function header(res: IncomingMessage, name: string): string | undefined {
  const value = res.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function mediaTypeOf(contentType: string | undefined): string | undefined {
  const type = contentType?.split(';')[0]?.trim();
  return type === undefined || type === '' ? undefined : type;
}

function isLoopback(host: string): boolean {
  let hostname: string;
  try {
    hostname = new URL(`http://${host}`).hostname;
  } catch {
    return false;
  }
  return hostname === 'localhost' || hostname === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(hostname);
}

/** Retry-After as seconds: a number or an HTTP date (RFC 9110 §10.2.3). */
function retryAfterSeconds(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim());
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, Math.ceil((date - Date.now()) / 1000));
}

/** A connection dropped (a keep-alive socket the server closed, say): worth another try. A timeout is not. */
function retryableNetworkError(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return code === 'ECONNRESET' || code === 'EPIPE' || code === 'ECONNABORTED';
}

/** Does a GET /v2/ answer come from a registry (distribution-spec: 200 or 401, and docker's header)? */
function looksLikeRegistry(res: IncomingMessage): boolean {
  return (
    res.statusCode === 200 ||
    res.statusCode === 401 ||
    res.statusCode === 403 ||
    res.headers['docker-distribution-api-version'] !== undefined
  );
}

/** The URL of `rel="next"` in a Link header, resolved against the URL that sent it. */
function nextLink(res: IncomingMessage, base: URL): URL | undefined {
  const link = header(res, 'link');
  if (link === undefined) return undefined;
  for (const part of link.split(/,(?=\s*<)/)) {
    const match = /<([^>]*)>\s*;(.*)/.exec(part);
    if (match !== null && /\brel\s*=\s*"?next"?/i.test(match[2] ?? '')) return new URL(match[1] ?? '', base);
  }
  return undefined;
}

const NAME = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;
const TAG = /^\w[\w.-]{0,127}$/;

/** Names and references go into URL paths: only what the distribution spec allows gets there. */
function checkName(repository: string): string {
  if (!NAME.test(repository) || repository.length > 255) {
    throw new TypeError(`invalid repository name ${JSON.stringify(repository.slice(0, 300))}`);
  }
  return repository;
}

function checkReference(reference: string): string {
  if (!TAG.test(reference) && !isDigest(reference)) {
    throw new TypeError(`invalid tag or digest ${JSON.stringify(reference.slice(0, 300))}`);
  }
  return reference;
}

/** Appends a query parameter without re-encoding the rest (upload locations carry opaque state). */
function withQuery(url: URL, name: string, value: string): URL {
  const next = new URL(url);
  next.search = `${url.search === '' ? '?' : `${url.search}&`}${name}=${encodeURIComponent(value)}`;
  return next;
}

/** Exactly `length` bytes of `source` (from its start), or an error naming the shortfall. */
async function* take(source: Readable, length: number, what: string): AsyncGenerator<Buffer> {
  let left = length;
  if (left > 0) {
    for await (const chunk of source as AsyncIterable<Buffer>) {
      const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk);
      if (buffer.length >= left) {
        yield buffer.subarray(0, left);
        left = 0;
        break;
      }
      left -= buffer.length;
      yield buffer;
    }
  }
  source.destroy();
  if (left > 0) throw new HutchError(`${what}: the content ended ${left} bytes short of ${length}`);
}

export class RegistryClient {
  readonly registry: string;
  /** The host requests go to (docker.io → registry-1.docker.io). */
  readonly host: string;
  private readonly tlsVerify: boolean;
  private readonly userAgent: string;
  private readonly timeoutMs: number;
  private readonly retryDelayMs: number;
  private readonly httpAgent: http.Agent;
  private readonly httpsAgent: https.Agent;
  private readonly auth: Authenticator;
  private endpoint: Promise<URL> | undefined;

  constructor(options: RegistryClientOptions) {
    this.registry = options.registry;
    this.host = options.registry === 'docker.io' ? 'registry-1.docker.io' : options.registry;
    this.tlsVerify = options.tlsVerify ?? true;
    this.userAgent = options.userAgent ?? `hutch/${version}`;
    this.timeoutMs = options.timeoutMs ?? 60_000;
    this.retryDelayMs = options.retryDelayMs ?? 500;
    const maxSockets = options.maxSockets ?? 8;
    this.httpAgent = new http.Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets });
    this.httpsAgent = new https.Agent({
      keepAlive: true,
      maxSockets,
      maxFreeSockets: maxSockets,
      rejectUnauthorized: this.tlsVerify,
    });
    this.auth = new Authenticator(this.registry, options.credentials, (request) => this.tokenExchange(request));
  }

  /** Ends the client: destroys its sockets, idle ones and any still in use (their requests fail). */
  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }

  // ---------------------------------------------------------------- the API

  /** GET /v2/ with the auth flow: checks that the registry answers and accepts our credentials. */
  async ping(): Promise<void> {
    const { res } = await this.send({
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
    const { res } = await this.send({
      method: 'GET',
      target: `/v2/${checkName(repository)}/manifests/${checkReference(reference)}`,
      headers: { accept: (accept.length > 0 ? accept : DEFAULT_MANIFEST_TYPES).join(', ') },
      scopes: [repositoryScope(repository, 'pull')],
      subject,
      ok: [200],
      followRedirects: true,
    });
    const what = `manifest ${describeSubject(subject)} from ${this.registry}`;
    const body = await this.readBody(res, MAX_MANIFEST_BYTES, what);
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
    const { res } = await this.send({
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
  async getBlob(repository: string, descriptor: Descriptor, options: GetBlobOptions = {}): Promise<BlobStream> {
    const { digest, size } = descriptor;
    const start = options.start ?? 0;
    if (start < 0 || start > size || (start > 0 && options.prefix === undefined)) {
      throw new TypeError('getBlob: a start offset must lie within the blob and come with its prefix');
    }
    const subject: Subject = { kind: 'blob', repository, reference: digest };
    const what = `blob ${digest} from ${this.registry}/${repository}`;
    const { res } = await this.send({
      method: 'GET',
      target: `/v2/${checkName(repository)}/blobs/${checkReference(digest)}`,
      headers: start > 0 ? { range: `bytes=${start}-` } : {},
      scopes: [repositoryScope(repository, 'pull')],
      subject,
      ok: start > 0 ? [200, 206] : [200],
      followRedirects: true,
    });
    let from = 0;
    if (res.statusCode === 206) {
      const range = /^bytes (\d+)-\d+\/(\d+|\*)$/.exec(header(res, 'content-range') ?? '');
      if (range === null || Number(range[1]) !== start) {
        res.destroy();
        throw new RegistryError(
          `registry ${this.registry} answered the range request for ${what} with ${JSON.stringify(header(res, 'content-range') ?? null)}`,
          { status: 206, registry: this.registry, what: describeSubject(subject) },
        );
      }
      from = start;
    }
    const announced = header(res, 'content-length');
    if (announced !== undefined && Number(announced) + from !== size) {
      // Known before reading a byte: no need to download what will not verify.
      res.destroy();
      throw new DigestMismatchError(what, { digest, size }, { size: Number(announced) + from });
    }
    const registry = this.registry;
    const prefix = from > 0 ? options.prefix : undefined;
    async function* bytes(): AsyncGenerator<Buffer> {
      if (prefix !== undefined) {
        let held = 0;
        for await (const chunk of prefix() as AsyncIterable<Buffer>) {
          const buffer = held + chunk.length > from ? chunk.subarray(0, from - held) : chunk;
          held += buffer.length;
          yield buffer;
          if (held >= from) break;
        }
        if (held < from) throw new HutchError(`${what}: the local prefix has ${held} of ${from} bytes`);
      }
      let received = from;
      try {
        for await (const chunk of res as AsyncIterable<Buffer>) {
          received += chunk.length;
          yield chunk;
        }
      } catch (error) {
        const code = (error as { code?: unknown }).code;
        throw new RegistryError(
          `${what}: the connection broke after ${received} of ${size} bytes (${typeof code === 'string' ? code : (error as Error).message})`,
          { code: typeof code === 'string' ? code : undefined, registry, what: `blob ${digest}` },
          { hint: 'the registry or the network dropped the connection; try again', cause: error },
        );
      }
    }
    const out = new BlobStream(from, from);
    pipeline(Readable.from(bytes(), { objectMode: false }), new VerifyingStream(what, { digest, size }), out, () => {
      // Errors reach the consumer through `out`.
    });
    return out;
  }

  /** Is the blob in the repository? (HEAD; 404 → false.) */
  async blobExists(repository: string, digest: Digest): Promise<boolean> {
    const { res } = await this.send({
      method: 'HEAD',
      target: `/v2/${checkName(repository)}/blobs/${checkReference(digest)}`,
      scopes: [repositoryScope(repository, 'pull')],
      subject: { kind: 'blob', repository, reference: digest },
      ok: [200, 404],
      followRedirects: true,
    });
    res.resume();
    return res.statusCode === 200;
  }

  /**
   * Cross-repository mount: true when the registry mounted the blob from
   * `fromRepository` (201); false when it started an upload instead (202),
   * which is cancelled here.
   */
  async mountBlob(repository: string, digest: Digest, fromRepository: string): Promise<boolean> {
    const query = new URLSearchParams({ mount: digest, from: checkName(fromRepository) });
    const { res, url } = await this.send({
      method: 'POST',
      target: `/v2/${checkName(repository)}/blobs/uploads/?${query.toString()}`,
      headers: { 'content-length': '0' },
      scopes: [repositoryScope(repository, 'pull', 'push'), repositoryScope(fromRepository, 'pull')],
      subject: { kind: 'upload', repository, reference: digest },
      ok: [201, 202],
    });
    res.resume();
    if (res.statusCode === 201) return true;
    const location = header(res, 'location');
    if (location !== undefined) await this.cancelUpload(repository, new URL(location, url));
    return false;
  }

  /**
   * Uploads a blob: POST for an upload, then one PUT with the whole content
   * (or PATCH chunks and a closing PUT with the digest). `open(start)` gives
   * the content from an offset; it is called again when a request is retried.
   * Does not check whether the blob exists: the caller does.
   */
  async pushBlob(
    repository: string,
    descriptor: Descriptor,
    open: (start: number) => Readable,
    options: PushBlobOptions = {},
  ): Promise<void> {
    const { digest, size } = descriptor;
    const subject: Subject = { kind: 'upload', repository, reference: digest };
    const scopes = [repositoryScope(repository, 'pull', 'push')];
    const what = `blob ${digest} for ${this.registry}/${repository}`;
    const started = await this.send({
      method: 'POST',
      target: `/v2/${checkName(repository)}/blobs/uploads/`,
      headers: { 'content-length': '0' },
      scopes,
      subject,
      ok: [202],
    });
    started.res.resume();
    let location = this.location(started, subject);
    const octets = { 'content-type': 'application/octet-stream' };
    // Once the registry answered the closing PUT, the upload is closed, whatever the answer.
    let closing = false;
    try {
      const chunkSize = options.chunkSize;
      if (chunkSize !== undefined && (!Number.isSafeInteger(chunkSize) || chunkSize <= 0)) {
        throw new TypeError(`pushBlob: chunkSize must be a positive integer, not ${chunkSize}`);
      }
      let final: Sent;
      if (chunkSize === undefined || size <= chunkSize) {
        closing = true;
        final = await this.send({
          method: 'PUT',
          target: withQuery(location, 'digest', digest),
          headers: octets,
          body: { length: size, open: () => Readable.from(take(open(0), size, what), { objectMode: false }) },
          scopes,
          subject,
          ok: [201],
        });
      } else {
        for (let offset = 0; offset < size; offset += chunkSize) {
          const length = Math.min(chunkSize, size - offset);
          const patched = await this.send({
            method: 'PATCH',
            target: location,
            headers: { ...octets, 'content-range': `${offset}-${offset + length - 1}` },
            body: { length, open: () => Readable.from(take(open(offset), length, what), { objectMode: false }) },
            scopes,
            subject,
            ok: [202],
          });
          patched.res.resume();
          location = this.location(patched, subject);
        }
        closing = true;
        final = await this.send({
          method: 'PUT',
          target: withQuery(location, 'digest', digest),
          headers: { ...octets, 'content-length': '0' },
          scopes,
          subject,
          ok: [201],
        });
      }
      final.res.resume();
      const reported = header(final.res, 'docker-content-digest');
      if (reported !== undefined && reported.trim() !== digest) {
        throw new DigestMismatchError(
          `${what}: the registry stored`,
          { digest },
          { digest: parseDigest(reported.trim(), what), size },
        );
      }
    } catch (error) {
      const answered = closing && error instanceof RegistryError && error.status !== undefined;
      if (!answered) await this.cancelUpload(repository, location);
      throw error;
    }
  }

  /** Stores a manifest under a tag or its digest; returns its digest (checked against the registry's). */
  async putManifest(repository: string, reference: string, mediaType: string, body: Buffer): Promise<Digest> {
    const digest = digestOf(body, isDigest(reference) ? algorithmOf(reference) : 'sha256');
    const what = `manifest ${repository}${isDigest(reference) ? '@' : ':'}${reference} for ${this.registry}`;
    if (isDigest(reference) && reference !== digest) {
      throw new DigestMismatchError(what, { digest: reference }, { digest, size: body.length });
    }
    const { res } = await this.send({
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
      const sent = await this.send({
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
      const body = await this.readBody(
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
      const sent = await this.send({
        method: 'GET',
        target,
        headers: { accept: 'application/json' },
        scopes: [repositoryScope(repository, 'pull')],
        subject,
        ok: [200],
        followRedirects: true,
      });
      const what = `${describeSubject(subject)} from ${this.registry}`;
      const body = await this.readBody(sent.res, MAX_MANIFEST_BYTES, what);
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

  private location(sent: Sent, subject: Subject): URL {
    const location = header(sent.res, 'location');
    if (location === undefined || location === '') {
      throw new RegistryError(`registry ${this.registry} answered ${describeSubject(subject)} without a Location`, {
        status: sent.res.statusCode,
        registry: this.registry,
        what: describeSubject(subject),
      });
    }
    return new URL(location, sent.url);
  }

  /** Best effort: an upload left open expires on the registry anyway. */
  private async cancelUpload(repository: string, location: URL): Promise<void> {
    try {
      const { res } = await this.send({
        method: 'DELETE',
        target: location,
        scopes: [repositoryScope(repository, 'pull', 'push')],
        subject: { kind: 'upload', repository },
        ok: [200, 202, 204, 404],
      });
      res.resume();
    } catch {
      // ignored: the upload was abandoned either way
    }
  }

  /** Reads a whole body, refusing more than `limit` bytes (by Content-Length first). */
  private async readBody(res: IncomingMessage, limit: number, what: string): Promise<Buffer> {
    const announced = Number(header(res, 'content-length'));
    if (Number.isFinite(announced) && announced > limit) {
      res.destroy();
      throw new HutchError(`${what} is too large (${announced} bytes; the limit is ${limit})`, {
        hint: 'the registry sent something that is not a manifest, or a manifest no client accepts',
      });
    }
    const chunks: Buffer[] = [];
    let length = 0;
    try {
      for await (const chunk of res as AsyncIterable<Buffer>) {
        length += chunk.length;
        if (length > limit) {
          res.destroy();
          throw new HutchError(`${what} is too large (more than ${limit} bytes)`, {
            hint: 'the registry sent something that is not a manifest, or a manifest no client accepts',
          });
        }
        chunks.push(chunk);
      }
    } catch (error) {
      if (error instanceof HutchError) throw error;
      const code = (error as { code?: unknown }).code;
      throw new RegistryError(
        `${what}: the connection broke after ${length} bytes (${typeof code === 'string' ? code : (error as Error).message})`,
        { code: typeof code === 'string' ? code : undefined, registry: this.registry, what },
        { cause: error },
      );
    }
    return Buffer.concat(chunks, length);
  }

  // ---------------------------------------------------------------- transport

  private schemes(): ('https' | 'http')[] {
    return !this.tlsVerify || isLoopback(this.host) ? ['https', 'http'] : ['https'];
  }

  /** The registry's base URL, found once by GET /v2/ over HTTPS, then (if allowed) plain HTTP. */
  private base(): Promise<URL> {
    this.endpoint ??= this.probe().catch((error: unknown) => {
      this.endpoint = undefined;
      throw error;
    });
    return this.endpoint;
  }

  private async probe(): Promise<URL> {
    const failures: { url: URL; error: unknown }[] = [];
    const schemes = this.schemes();
    for (const scheme of schemes) {
      const url = new URL(`${scheme}://${this.host}/v2/`);
      const fallback = scheme !== schemes[0];
      for (let attempt = 1; ; attempt++) {
        try {
          const res = await this.exchange(url, 'GET', { 'user-agent': this.userAgent }, undefined);
          res.resume();
          // Over plain HTTP, a TLS server may answer too (Go's says 400 "HTTP request to an HTTPS
          // server"): only an answer that looks like a registry's counts.
          if (fallback && !looksLikeRegistry(res)) {
            failures.push({
              url,
              error: new Error(`answered ${res.statusCode} ${res.statusMessage ?? ''}, not as a registry`),
            });
            break;
          }
          if (res.statusCode === 401) this.auth.observe(res.headers['www-authenticate']);
          return new URL(`${scheme}://${this.host}/`);
        } catch (error) {
          if (!fallback && retryableNetworkError(error) && attempt < MAX_ATTEMPTS) {
            await sleep(this.retryDelayMs * 2 ** (attempt - 1));
            continue;
          }
          failures.push({ url, error });
          break;
        }
      }
    }
    // A certificate failure over HTTPS says more than the plain-HTTP attempt after it.
    const shown =
      failures.find((f) => isTlsError(f.error) && (f.error as { code?: unknown }).code !== 'EPROTO') ??
      failures[failures.length - 1];
    if (shown === undefined) throw new Error('no scheme to try');
    throw unreachable(this.registry, shown.url, shown.error);
  }

  private async tokenExchange(request: {
    url: URL;
    method: 'GET' | 'POST';
    headers: Record<string, string>;
    body?: Buffer;
    subject: Subject;
  }): Promise<{ status: number; statusText: string | undefined; body: Buffer }> {
    const headers: Record<string, string> = { ...request.headers, 'user-agent': this.userAgent };
    if (request.body !== undefined) headers['content-length'] = String(request.body.length);
    for (let attempt = 1; ; attempt++) {
      let res: IncomingMessage;
      try {
        res = await this.exchange(request.url, request.method, headers, request.body);
      } catch (error) {
        if (retryableNetworkError(error) && attempt < MAX_ATTEMPTS) {
          await sleep(this.retryDelayMs * 2 ** (attempt - 1));
          continue;
        }
        throw unreachable(
          this.registry,
          request.url,
          error instanceof SourceError ? error.source : error,
          'token server',
        );
      }
      const status = res.statusCode ?? 0;
      if ((status === 429 || [500, 502, 503, 504].includes(status)) && attempt < MAX_ATTEMPTS) {
        res.resume();
        const after = status === 429 ? retryAfterSeconds(header(res, 'retry-after')) : undefined;
        await sleep(
          after !== undefined ? Math.min(after, MAX_RETRY_AFTER_S) * 1000 : this.retryDelayMs * 2 ** (attempt - 1),
        );
        continue;
      }
      const limit = status === 200 ? MAX_MANIFEST_BYTES : MAX_ERROR_BODY;
      const body = await this.readBody(res, limit, `the token of registry ${this.registry}`).catch(() =>
        Buffer.alloc(0),
      );
      return { status, statusText: res.statusMessage, body };
    }
  }

  /**
   * One request with auth, retries and redirects. Resolves with the response
   * when its status is in `ok` (the caller reads or drains it); anything else
   * becomes a RegistryError.
   */
  private async send(request: SendRequest): Promise<Sent> {
    const base = await this.base();
    let url = typeof request.target === 'string' ? new URL(request.target, base) : request.target;
    let method = request.method;
    let body = request.body;
    let authRetried = false;
    let rateLimitedAttempts = 0;
    let failedAttempts = 0;
    let redirects = 0;
    let forced: string | undefined;
    for (;;) {
      const headers: Record<string, string> = { ...request.headers, 'user-agent': this.userAgent };
      const toRegistry = url.host === base.host;
      const authorization = toRegistry
        ? (forced ?? (await this.auth.authorization(request.scopes, request.subject)))
        : undefined;
      if (authorization !== undefined) headers.authorization = authorization;
      if (body !== undefined) headers['content-length'] = String(body.length);
      let res: IncomingMessage;
      try {
        res = await this.exchange(url, method, headers, body?.open());
      } catch (error) {
        if (error instanceof SourceError) throw error.source;
        if (retryableNetworkError(error) && failedAttempts < MAX_ATTEMPTS - 1) {
          failedAttempts++;
          await sleep(this.retryDelayMs * 2 ** (failedAttempts - 1));
          continue;
        }
        throw unreachable(this.registry, url, error, toRegistry ? 'registry' : 'redirect target');
      }
      const status = res.statusCode ?? 0;
      if (request.ok.includes(status)) return { res, url };

      if (status === 401 && toRegistry && !authRetried) {
        authRetried = true;
        res.resume();
        const next = await this.auth.retryAuthorization(
          res.headers['www-authenticate'],
          request.scopes,
          authorization,
          request.subject,
        );
        if (next !== undefined) {
          forced = next;
          continue;
        }
        throw responseError(this.registry, request.subject, {
          status,
          statusText: res.statusMessage,
          body: { code: 'UNAUTHORIZED', message: undefined },
          withCredentials: this.auth.hasCredentials && authorization !== undefined,
        });
      }
      if (status === 429) {
        rateLimitedAttempts++;
        res.resume();
        const after = retryAfterSeconds(header(res, 'retry-after'));
        if (rateLimitedAttempts >= MAX_ATTEMPTS || (after !== undefined && after > MAX_RETRY_AFTER_S)) {
          throw rateLimited(this.registry, request.subject, rateLimitedAttempts, after);
        }
        await sleep(after !== undefined ? after * 1000 : this.retryDelayMs * 2 ** (rateLimitedAttempts - 1));
        continue;
      }
      if ([500, 502, 503, 504].includes(status) && failedAttempts < MAX_ATTEMPTS - 1) {
        failedAttempts++;
        res.resume();
        await sleep(this.retryDelayMs * 2 ** (failedAttempts - 1));
        continue;
      }
      if ([301, 302, 303, 307, 308].includes(status) && request.followRedirects === true) {
        const location = header(res, 'location');
        res.resume();
        if (location !== undefined && redirects < MAX_REDIRECTS) {
          redirects++;
          url = new URL(location, url);
          if (status === 303) {
            method = 'GET';
            body = undefined;
          }
          // A token is for the registry; it does not follow a redirect to another host.
          forced = undefined;
          continue;
        }
      }
      throw await this.errorOf(res, request.subject, this.auth.hasCredentials && authorization !== undefined);
    }
  }

  private async errorOf(res: IncomingMessage, subject: Subject, withCredentials: boolean): Promise<RegistryError> {
    const body = await this.readBody(res, MAX_ERROR_BODY, 'the error').catch(() => Buffer.alloc(0));
    return responseError(this.registry, subject, {
      status: res.statusCode ?? 0,
      statusText: res.statusMessage,
      body: parseErrorBody(body),
      withCredentials,
    });
  }

  /**
   * One HTTP exchange: resolves with the response once its headers arrive.
   * A body that fails rejects with SourceError; a body still being sent when
   * the response comes (a 401 before the upload was read) is abandoned.
   */
  private exchange(
    url: URL,
    method: Method,
    headers: Record<string, string>,
    body: Readable | Buffer | undefined,
  ): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      let settled = false;
      const settle = (fn: () => void) => {
        if (!settled) {
          settled = true;
          fn();
        }
      };
      const https_ = url.protocol === 'https:';
      const req = (https_ ? https : http).request(url, {
        method,
        headers,
        agent: https_ ? this.httpsAgent : this.httpAgent,
      });
      req.setTimeout(this.timeoutMs, () => {
        req.destroy(Object.assign(new Error(`no answer for ${this.timeoutMs / 1000} s`), { code: 'ETIMEDOUT' }));
      });
      req.on('response', (res) => {
        if (body instanceof Readable && !body.readableEnded) {
          body.unpipe(req);
          body.destroy();
        }
        settle(() => resolve(res));
      });
      req.on('error', (error) => settle(() => reject(error)));
      if (body === undefined) {
        req.end();
      } else if (Buffer.isBuffer(body)) {
        req.end(body);
      } else {
        body.once('error', (error) => {
          req.destroy();
          settle(() => reject(new SourceError(error)));
        });
        body.pipe(req);
      }
    });
  }
}

function emptyIndex(): Index {
  return { schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: [] };
}

function filterReferrers(index: Index, artifactType: string | undefined): Index {
  if (artifactType === undefined) return index;
  return { ...index, manifests: index.manifests.filter((d) => d.artifactType === artifactType) };
}
