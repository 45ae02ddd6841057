/**
 * Blob transfers of the distribution API: downloads (verified against the
 * descriptor's digest AND size as they stream, resumable with a Range request),
 * existence checks, cross-repository mounts and uploads (monolithic or
 * chunked). RegistryClient (client.ts) exposes them; the requests go through
 * its RegistryTransport (transport.ts).
 */
import { Readable, Transform, pipeline, type TransformCallback } from 'node:stream';
import { HutchError } from '../../errors.js';
import { DigestMismatchError, VerifyingStream, parseDigest, type Digest } from '../digest.js';
import type { Descriptor } from '../oci.js';
import { repositoryScope } from './challenge.js';
import { RegistryError, describeSubject, type Subject } from './errors.js';
import { checkName, checkReference, header, type RegistryTransport, type Sent } from './transport.js';

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

/**
 * The bytes of a blob, checked against the descriptor's digest and size as
 * they stream: the stream fails (naming the blob and the bytes received) when
 * the content differs, the registry stops early or sends too much.
 */
export async function getBlob(
  transport: RegistryTransport,
  repository: string,
  descriptor: Descriptor,
  options: GetBlobOptions = {},
): Promise<BlobStream> {
  const { digest, size } = descriptor;
  const start = options.start ?? 0;
  if (start < 0 || start > size || (start > 0 && options.prefix === undefined)) {
    throw new TypeError('getBlob: a start offset must lie within the blob and come with its prefix');
  }
  const subject: Subject = { kind: 'blob', repository, reference: digest };
  const what = `blob ${digest} from ${transport.registry}/${repository}`;
  const { res } = await transport.send({
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
        `registry ${transport.registry} answered the range request for ${what} with ${JSON.stringify(header(res, 'content-range') ?? null)}`,
        { status: 206, registry: transport.registry, what: describeSubject(subject) },
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
  const registry = transport.registry;
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
export async function blobExists(transport: RegistryTransport, repository: string, digest: Digest): Promise<boolean> {
  const { res } = await transport.send({
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
export async function mountBlob(
  transport: RegistryTransport,
  repository: string,
  digest: Digest,
  fromRepository: string,
): Promise<boolean> {
  const query = new URLSearchParams({ mount: digest, from: checkName(fromRepository) });
  const { res, url } = await transport.send({
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
  if (location !== undefined) await cancelUpload(transport, repository, new URL(location, url));
  return false;
}

/**
 * Uploads a blob: POST for an upload, then one PUT with the whole content
 * (or PATCH chunks and a closing PUT with the digest). `open(start)` gives
 * the content from an offset; it is called again when a request is retried.
 * Does not check whether the blob exists: the caller does.
 */
export async function pushBlob(
  transport: RegistryTransport,
  repository: string,
  descriptor: Descriptor,
  open: (start: number) => Readable,
  options: PushBlobOptions = {},
): Promise<void> {
  const { digest, size } = descriptor;
  const subject: Subject = { kind: 'upload', repository, reference: digest };
  const scopes = [repositoryScope(repository, 'pull', 'push')];
  const what = `blob ${digest} for ${transport.registry}/${repository}`;
  const started = await transport.send({
    method: 'POST',
    target: `/v2/${checkName(repository)}/blobs/uploads/`,
    headers: { 'content-length': '0' },
    scopes,
    subject,
    ok: [202],
  });
  started.res.resume();
  let location = uploadLocation(transport, started, subject);
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
      final = await transport.send({
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
        const patched = await transport.send({
          method: 'PATCH',
          target: location,
          headers: { ...octets, 'content-range': `${offset}-${offset + length - 1}` },
          body: { length, open: () => Readable.from(take(open(offset), length, what), { objectMode: false }) },
          scopes,
          subject,
          ok: [202],
        });
        patched.res.resume();
        location = uploadLocation(transport, patched, subject);
      }
      closing = true;
      final = await transport.send({
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
    if (!answered) await cancelUpload(transport, repository, location);
    throw error;
  }
}

function uploadLocation(transport: RegistryTransport, sent: Sent, subject: Subject): URL {
  const location = header(sent.res, 'location');
  if (location === undefined || location === '') {
    throw new RegistryError(`registry ${transport.registry} answered ${describeSubject(subject)} without a Location`, {
      status: sent.res.statusCode,
      registry: transport.registry,
      what: describeSubject(subject),
    });
  }
  return new URL(location, sent.url);
}

/** Best effort: an upload left open expires on the registry anyway. */
async function cancelUpload(transport: RegistryTransport, repository: string, location: URL): Promise<void> {
  try {
    const { res } = await transport.send({
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
