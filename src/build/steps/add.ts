/**
 * What ADD adds beyond COPY: a local tar archive (plain, gzip, bzip2, xz or zstd) is
 * unpacked at the destination, and an http(s) URL is downloaded, checked
 * against --checksum when given. Archives go through the layer unpacker
 * (src/image/layer/extract.ts), which refuses members that would escape, into
 * a directory of the step's own; the executor then copies that tree.
 */
import { createHash } from 'node:crypto';
import { createReadStream, mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import type { Duplex } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { decompressArchiveStream, decompressStream, detectCompression } from '../../image/layer/compression.js';
import { extractLayer } from '../../image/layer/extract.js';
import type { Compression } from '../../image/media.js';
import { ENTRY_COST, SpaceGuard } from '../../image/store/reserve.js';
import { readHead } from '../../fs/read-head.js';
import { HutchError, messageOf } from '../../errors.js';

function isUstar(block: Buffer): boolean {
  return block.length >= 263 && block.subarray(257, 262).toString('latin1') === 'ustar';
}

/** How an archive ADD unpacks is compressed: a layer's compressions, and bzip2 and xz. */
export type ArchiveCompression = Compression | 'bzip2' | 'xz';

export type ArchiveKind = { kind: 'tar'; compression: ArchiveCompression } | undefined;

function decompressor(compression: ArchiveCompression): Duplex {
  return compression === 'bzip2' || compression === 'xz'
    ? decompressArchiveStream(compression)
    : decompressStream(compression);
}

function archiveCompression(first: Buffer): ArchiveCompression {
  if (first.subarray(0, 3).toString('latin1') === 'BZh') return 'bzip2';
  if (first.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) return 'xz';
  return detectCompression(first);
}

/**
 * Whether ADD unpacks this file: a tar (ustar or GNU), plain or compressed
 * (gzip, bzip2, xz, zstd), as Docker decides: by the content, not the name.
 */
export async function archiveKind(path: string): Promise<ArchiveKind> {
  const first = readHead(path, 512);
  const compression = archiveCompression(first);
  if (compression === 'none') return isUstar(first) ? { kind: 'tar', compression } : undefined;
  const chunks: Buffer[] = [];
  let size = 0;
  const source = createReadStream(path);
  const decompress = decompressor(compression);
  try {
    source.pipe(decompress);
    for await (const chunk of decompress as AsyncIterable<Buffer>) {
      chunks.push(chunk);
      size += chunk.length;
      if (size >= 512) break;
    }
  } catch {
    return undefined;
  } finally {
    source.destroy();
    decompress.destroy();
  }
  return isUstar(Buffer.concat(chunks)) ? { kind: 'tar', compression } : undefined;
}

export interface UnpackArchiveOptions {
  /** true when rootless: overlay metadata in user.* xattrs. */
  userXattrs: boolean;
  /** The store's directory: dir is on its file system (the step's workspace is in its tmp/). */
  storageDir: string;
  env?: NodeJS.ProcessEnv;
}

/**
 * Unpacks the archive into dir (created); owners, modes and mtimes as the
 * archive has them. The extraction stops before it eats into the disk reserve
 * of the store's file system, and the copy of the tree the executor makes
 * next must fit above the reserve too.
 */
export async function unpackArchive(
  path: string,
  compression: ArchiveCompression,
  dir: string,
  options: UnpackArchiveOptions,
): Promise<void> {
  const { userXattrs } = options;
  mkdirSync(dir, { recursive: true });
  const space = new SpaceGuard(options.storageDir, options.env);
  const meter = space.meter('unpacking the archive');
  const decompress = decompressor(compression);
  void pipeline(createReadStream(path), decompress).catch((error: unknown) => decompress.destroy(error as Error));
  const stats = await extractLayer(decompress, dir, { userXattrs, space: meter });
  space.require(stats.bytes + stats.entries * ENTRY_COST, 'the copy of the unpacked archive in the layer');
}

export interface Downloaded {
  path: string;
  /** The name a file gets in a destination directory: the URL path's last element. */
  name: string;
  /** `sha256:…` of the content. */
  digest: string;
  mtime: Date;
}

/** Downloads url into dir; with a checksum (`sha256:hex`, sha384, sha512) the content must match it. */
export async function download(url: string, dir: string, checksum: string | undefined): Promise<Downloaded> {
  let response;
  try {
    response = await fetch(url, { redirect: 'follow' });
  } catch (error) {
    // fetch says only "fetch failed": the cause names what failed (ECONNREFUSED, ENOTFOUND…).
    const cause = error instanceof Error && error.cause !== undefined ? error.cause : error;
    throw new HutchError(messageOf(cause), { cause: error });
  }
  if (!response.ok || response.body === null) {
    throw new HutchError(`the server answered ${`${response.status} ${response.statusText}`.trim()}`, {
      hint: response.status === 404 ? 'check the URL: the server has no file there' : undefined,
    });
  }
  const body = Buffer.from(await response.arrayBuffer());
  if (checksum !== undefined) {
    const match = /^(sha256|sha384|sha512):([a-f0-9]+)$/.exec(checksum);
    if (match === null)
      throw new ChecksumError(`invalid checksum ${checksum}: expected sha256:HEX (or sha384, sha512)`);
    const actual = createHash(match[1] as string)
      .update(body)
      .digest('hex');
    if (actual !== match[2]) {
      throw new ChecksumError(`digest mismatch: expected ${checksum}, got ${match[1]}:${actual}`);
    }
  }
  const name = posix.basename(new URL(url).pathname) || 'index.html';
  mkdirSync(dir, { recursive: true });
  const path = join(dir, 'download');
  writeFileSync(path, body);
  const modified = response.headers.get('last-modified');
  const mtime = modified !== null && !Number.isNaN(Date.parse(modified)) ? new Date(modified) : new Date();
  utimesSync(path, mtime, mtime);
  return { path, name, digest: `sha256:${createHash('sha256').update(body).digest('hex')}`, mtime };
}

export class ChecksumError extends Error {}
