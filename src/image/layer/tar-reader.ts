/**
 * The reading side of layer tars: a parser of POSIX ustar with PAX extended
 * headers and GNU's long names, that decodes each member into a TarEntry and
 * refuses what no file system could hold (a bad checksum, size, owner or time,
 * an oversized extended header, a sparse file, an xattr with no valid name).
 * What an entry becomes on disk is the subclass's business (extract.ts); the
 * writing side is tar-writer.ts.
 *
 * The tar is parsed here rather than with tar-stream: tar-stream decodes PAX
 * values as UTF-8, which mangles binary xattrs (security.capability), and it
 * ignores PAX uid, gid and mtime. The parser is a Writable that handles each
 * chunk synchronously (headers, then the subclass's sync calls for each entry
 * and its content), so a layer of many small files costs no event-loop round
 * trip per file, and the source is read no faster than the disk takes it.
 */
import { Writable } from 'node:stream';
import { MalformedLayerError } from './layer-tree.js';

export type EntryType = 'file' | 'directory' | 'symlink' | 'link' | 'char' | 'block' | 'fifo';

export interface TarEntry {
  name: string;
  type: EntryType;
  /** Permission bits, setuid, setgid and sticky (0o7777). */
  mode: number;
  uid: number;
  gid: number;
  /** Bytes of content that follow the header (0 for every type but a file). */
  size: number;
  /** Seconds since the epoch, maybe fractional (PAX). */
  mtime: number;
  atime: number;
  linkname: string;
  devmajor: number;
  devminor: number;
  /** From PAX records SCHILY.xattr.NAME, values as raw bytes. */
  xattrs: Map<string, Buffer> | undefined;
}

const BLOCK = 512;
/** Go's archive/tar caps PAX and GNU long-name bodies at 1 MiB; so does hutch. */
const MAX_META_SIZE = 1 << 20;
const XATTR_PREFIX = 'SCHILY.xattr.';

const TYPES: Record<string, EntryType> = {
  '0': 'file',
  '\0': 'file',
  '7': 'file',
  '1': 'link',
  '2': 'symlink',
  '3': 'char',
  '4': 'block',
  '5': 'directory',
  '6': 'fifo',
};

/** A NUL-terminated (or field-filling) string of the header. */
function field(block: Buffer, at: number, length: number): string {
  const end = block.indexOf(0, at);
  return block.toString('utf8', at, end < 0 || end > at + length ? at + length : end);
}

/** A numeric field: octal digits (space or NUL padded), or base-256 when the top bit is set (GNU, star). */
function numeric(block: Buffer, at: number, length: number): number {
  const first = block[at] as number;
  if ((first & 0x80) !== 0) {
    let value = BigInt(first & 0x7f) - ((first & 0x40) !== 0 ? 0x80n : 0n);
    for (let i = 1; i < length; i++) value = value * 256n + BigInt(block[at + i] as number);
    return Number(value);
  }
  let value = 0;
  let i = at;
  const end = at + length;
  while (i < end && (block[i] === 0x20 || block[i] === 0)) i++;
  for (; i < end; i++) {
    const c = block[i] as number;
    if (c === 0x20 || c === 0) break;
    if (c < 0x30 || c > 0x37) return Number.NaN;
    value = value * 8 + (c - 0x30);
  }
  return value;
}

function checksumOk(block: Buffer, at: number): boolean {
  const expected = numeric(block, at + 148, 8);
  // The sum of the header's bytes, the checksum field counted as spaces.
  let sum = 8 * 0x20;
  for (let i = at; i < at + 148; i++) sum += block[i] as number;
  for (let i = at + 156; i < at + BLOCK; i++) sum += block[i] as number;
  if (sum === expected) return true;
  // Some old tars summed signed chars.
  let signed = 8 * 0x20;
  for (let i = at; i < at + BLOCK; i++) {
    if (i >= at + 148 && i < at + 156) continue;
    const c = block[i] as number;
    signed += c > 127 ? c - 256 : c;
  }
  return signed === expected;
}

function isZeroBlock(block: Buffer, at: number): boolean {
  for (let i = at; i < at + BLOCK; i++) if (block[i] !== 0) return false;
  return true;
}

/** PAX extended header records: `LENGTH KEY=VALUE\n`, values kept as bytes. */
function parsePax(body: Buffer): Map<string, Buffer> {
  const records = new Map<string, Buffer>();
  let at = 0;
  while (at < body.length) {
    if (body[at] === 0) break; // padding some writers leave
    const space = body.indexOf(0x20, at);
    const length = space < 0 ? Number.NaN : Number(body.toString('latin1', at, space));
    if (!Number.isInteger(length) || length <= 0 || at + length > body.length || body[at + length - 1] !== 0x0a) {
      throw new MalformedLayerError('layer tar is corrupt: malformed PAX extended header');
    }
    const equals = body.indexOf(0x3d, space + 1);
    if (equals < 0 || equals >= at + length - 1) {
      throw new MalformedLayerError('layer tar is corrupt: malformed PAX extended header');
    }
    records.set(body.toString('utf8', space + 1, equals), body.subarray(equals + 1, at + length - 1));
    at += length;
  }
  return records;
}

/**
 * A PAX number as Go's archive/tar reads it: decimal digits, a time with an
 * optional sign and fraction (not `1e300`, `0x10` or ` 7`, which Number()
 * would take).
 */
function paxNumber(records: Map<string, Buffer>, key: string): number | undefined {
  const value = records.get(key);
  if (value === undefined) return undefined;
  const text = value.toString('latin1');
  const syntax = key === 'mtime' || key === 'atime' ? /^-?\d+(\.\d+)?$/ : /^\d+$/;
  const number = Number(text);
  if (!syntax.test(text) || !Number.isFinite(number)) {
    throw new MalformedLayerError(`layer tar is corrupt: PAX ${key} is not a number`);
  }
  return number;
}

/**
 * A Writable that parses the tar written to it. For each member it calls
 * onEntry; when that returns true, the member's content follows through
 * onContent (in pieces, synchronously) and then onContentEnd (at once for an
 * empty one). onEnd runs once the tar ended well, before the stream finishes.
 * Whatever a hook throws fails the stream.
 */
export abstract class TarReader extends Writable {
  // Parser state.
  private state: 'header' | 'file' | 'meta' | 'skip' | 'end' = 'header';
  /** Bytes consumed so far, for messages. */
  private offset = 0;
  private readonly headerBuffer = Buffer.alloc(BLOCK);
  private headerFill = 0;
  /** Body bytes left of the current file, meta header or skipped member. */
  private remaining = 0;
  /** Zero bytes after the current body up to the next block. */
  private padding = 0;
  private meta: { type: string; body: Buffer; fill: number } | undefined;
  private pax: Map<string, Buffer> | undefined;
  private longName: string | undefined;
  private longLink: string | undefined;
  private entryName = '';

  constructor() {
    super({ highWaterMark: 1 << 20 });
  }

  /** One decoded member: true to be handed its content, false to skip it. */
  protected abstract onEntry(entry: TarEntry): boolean;

  /** `length` bytes of the current member's content, from `chunk` at `at`. */
  protected abstract onContent(chunk: Buffer, at: number, length: number): void;

  /** The current member's content is complete. */
  protected abstract onContentEnd(): void;

  /** The tar ended, all of it consumed and well-formed. */
  protected abstract onEnd(): void;

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    try {
      this.consume(chunk);
      callback();
    } catch (error) {
      callback(error as Error);
    }
  }

  override _final(callback: (error?: Error | null) => void): void {
    try {
      if (this.state !== 'header' && this.state !== 'end') {
        throw new MalformedLayerError(`layer tar ends in the middle of entry ${JSON.stringify(this.entryName)}`);
      }
      if (
        this.headerFill !== 0 ||
        this.pax !== undefined ||
        this.longName !== undefined ||
        this.longLink !== undefined
      ) {
        throw new MalformedLayerError('layer tar ends in the middle of a header');
      }
      this.onEnd();
      callback();
    } catch (error) {
      callback(error as Error);
    }
  }

  private consume(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length) {
      const available = chunk.length - at;
      switch (this.state) {
        case 'header': {
          if (this.headerFill === 0 && available >= BLOCK) {
            this.offset += BLOCK;
            this.onHeader(chunk, at);
            at += BLOCK;
          } else {
            const n = Math.min(BLOCK - this.headerFill, available);
            chunk.copy(this.headerBuffer, this.headerFill, at, at + n);
            this.headerFill += n;
            at += n;
            this.offset += n;
            if (this.headerFill === BLOCK) {
              this.headerFill = 0;
              this.onHeader(this.headerBuffer, 0);
            }
          }
          break;
        }
        case 'file': {
          const n = Math.min(this.remaining, available);
          this.onContent(chunk, at, n);
          at += n;
          this.offset += n;
          this.remaining -= n;
          if (this.remaining === 0) {
            this.onContentEnd();
            this.afterBody();
          }
          break;
        }
        case 'meta': {
          const meta = this.meta as { type: string; body: Buffer; fill: number };
          const n = Math.min(this.remaining, available);
          chunk.copy(meta.body, meta.fill, at, at + n);
          meta.fill += n;
          at += n;
          this.offset += n;
          this.remaining -= n;
          if (this.remaining === 0) {
            this.meta = undefined;
            this.onMeta(meta.type, meta.body);
            this.afterBody();
          }
          break;
        }
        case 'skip': {
          const n = Math.min(this.remaining, available);
          at += n;
          this.offset += n;
          this.remaining -= n;
          if (this.remaining === 0) this.state = 'header';
          break;
        }
        case 'end':
          // Past the end-of-archive blocks: the rest is padding, read only so
          // whoever verifies the blob's digest sees all of it.
          this.offset += available;
          return;
      }
    }
  }

  /** After a file or meta body: skip its padding, then expect a header. */
  private afterBody(): void {
    if (this.padding > 0) {
      this.state = 'skip';
      this.remaining = this.padding;
    } else {
      this.state = 'header';
    }
  }

  /** Sets up reading a body of size bytes (plus padding) in the given state. */
  private expectBody(state: 'file' | 'meta' | 'skip', size: number): void {
    const padding = (BLOCK - (size % BLOCK)) % BLOCK;
    if (state === 'skip') {
      this.remaining = size + padding;
      this.padding = 0;
      this.state = this.remaining === 0 ? 'header' : 'skip';
      return;
    }
    this.remaining = size;
    this.padding = padding;
    this.state = state;
  }

  private onHeader(block: Buffer, at: number): void {
    const headerOffset = this.offset - BLOCK;
    if (isZeroBlock(block, at)) {
      this.state = 'end';
      return;
    }
    if (!checksumOk(block, at)) {
      throw new MalformedLayerError(
        `layer tar is corrupt: bad header checksum at byte ${headerOffset}` +
          (headerOffset === 0 ? ' (is it still compressed?)' : ''),
      );
    }
    const flag = String.fromCharCode(block[at + 156] as number);
    const size = numeric(block, at + 124, 12);
    if (!Number.isSafeInteger(size) || size < 0) {
      throw new MalformedLayerError(`layer tar is corrupt: bad size in the header at byte ${headerOffset}`);
    }
    switch (flag) {
      case 'x':
      case 'L':
      case 'K':
        if (size > MAX_META_SIZE) {
          throw new MalformedLayerError(
            `layer tar has a ${size}-byte extended header; at most ${MAX_META_SIZE} are allowed`,
          );
        }
        this.meta = { type: flag, body: Buffer.alloc(size), fill: 0 };
        if (size === 0) {
          this.onMeta(flag, this.meta.body);
          this.meta = undefined;
          this.state = 'header';
        } else {
          this.expectBody('meta', size);
        }
        return;
      case 'g':
        // Global PAX headers carry nothing hutch uses (Go's archive/tar hands
        // them over as members, and containers/storage ignores them).
        this.expectBody('skip', size);
        return;
    }
    const entry = this.decodeEntry(block, at, flag, size, headerOffset);
    this.entryName = entry.name;
    if (!this.onEntry(entry)) {
      this.expectBody('skip', entry.size);
    } else if (entry.size === 0) {
      this.onContentEnd();
      this.state = 'header';
    } else {
      this.expectBody('file', entry.size);
    }
  }

  private onMeta(type: string, body: Buffer): void {
    if (type === 'x') {
      this.pax = parsePax(body);
    } else {
      const end = body.indexOf(0);
      const text = body.toString('utf8', 0, end < 0 ? body.length : end);
      if (type === 'L') this.longName = text;
      else this.longLink = text;
    }
  }

  private decodeEntry(block: Buffer, at: number, flag: string, headerSize: number, headerOffset: number): TarEntry {
    const magic = block.toString('latin1', at + 257, at + 263);
    let name = field(block, at, 100);
    // POSIX ustar splits long names into prefix/name; GNU's magic ("ustar  ") uses the space otherwise.
    if (magic === 'ustar\0' && block[at + 345] !== 0) name = `${field(block, at + 345, 155)}/${name}`;
    let type = TYPES[flag];
    if (type === undefined) {
      const shown = flag === 'S' ? 'S (a GNU sparse file)' : JSON.stringify(flag);
      throw new MalformedLayerError(
        `layer entry ${JSON.stringify(this.longName ?? name)} has tar type ${shown}, which hutch cannot unpack`,
      );
    }
    if (flag === '\0' && name.endsWith('/')) type = 'directory';
    const mtime = numeric(block, at + 136, 12);
    const entry: TarEntry = {
      name,
      type,
      mode: numeric(block, at + 100, 8) & 0o7777,
      uid: numeric(block, at + 108, 8),
      gid: numeric(block, at + 116, 8),
      size: headerSize,
      mtime,
      atime: mtime,
      linkname: field(block, at + 157, 100),
      devmajor: numeric(block, at + 329, 8),
      devminor: numeric(block, at + 337, 8),
      xattrs: undefined,
    };
    if (this.longName !== undefined) entry.name = this.longName;
    if (this.longLink !== undefined) entry.linkname = this.longLink;
    this.longName = this.longLink = undefined;
    const pax = this.pax;
    this.pax = undefined;
    if (pax !== undefined) {
      for (const [key, value] of pax) {
        if (key.startsWith(XATTR_PREFIX)) {
          const name = key.slice(XATTR_PREFIX.length);
          // setxattr(2) takes no empty name (EINVAL) and none over XATTR_NAME_MAX bytes (ERANGE).
          if (name === '' || Buffer.byteLength(name) > 255) {
            throw new MalformedLayerError(
              `layer entry ${JSON.stringify(entry.name)} has an xattr named ${JSON.stringify(name.slice(0, 64))}, which no file can have`,
            );
          }
          entry.xattrs ??= new Map();
          entry.xattrs.set(name, value);
        } else if (key.startsWith('GNU.sparse.')) {
          throw new MalformedLayerError(
            `layer entry ${JSON.stringify(entry.name)} is a GNU sparse file, which hutch cannot unpack`,
          );
        }
      }
      const path = pax.get('path');
      if (path !== undefined) entry.name = path.toString('utf8');
      const link = pax.get('linkpath');
      if (link !== undefined) entry.linkname = link.toString('utf8');
      entry.size = paxNumber(pax, 'size') ?? entry.size;
      entry.uid = paxNumber(pax, 'uid') ?? entry.uid;
      entry.gid = paxNumber(pax, 'gid') ?? entry.gid;
      entry.mtime = paxNumber(pax, 'mtime') ?? entry.mtime;
      entry.atime = paxNumber(pax, 'atime') ?? entry.mtime;
    }
    for (const [what, value] of [
      ['uid', entry.uid],
      ['gid', entry.gid],
      ['size', entry.size],
      ['device number', entry.devmajor],
      ['device number', entry.devminor],
    ] as const) {
      if (!Number.isSafeInteger(value) || value < 0 || ((what === 'uid' || what === 'gid') && value > 0xfffffffe)) {
        throw new MalformedLayerError(
          `layer entry ${JSON.stringify(entry.name)} has a bad ${what} (header at byte ${headerOffset})`,
        );
      }
    }
    if (!Number.isFinite(entry.mtime)) entry.mtime = entry.atime = 0;
    // Beyond ±2^53 s a time is no integer any more, and utimensat(2) refuses it (EINVAL).
    if (Math.abs(entry.mtime) > Number.MAX_SAFE_INTEGER || Math.abs(entry.atime) > Number.MAX_SAFE_INTEGER) {
      throw new MalformedLayerError(
        `layer entry ${JSON.stringify(entry.name)} has a bad time (header at byte ${headerOffset})`,
      );
    }
    // Only files carry content; every other type is a header alone, whatever
    // its size field says (as Go's archive/tar reads it).
    if (type !== 'file') entry.size = 0;
    return entry;
  }
}
