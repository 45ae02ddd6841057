/**
 * Unpacks a layer tar (the OCI image spec's layer.md, Docker's image spec) into
 * a directory in overlayfs's format: whiteouts become 0:0 character devices,
 * opaque markers an xattr (whiteout.ts). Every name passes the checks of
 * paths.ts first; nothing is ever created, chowned, chmodded or timed through a
 * symlink.
 *
 * Runs inside hutch's user namespace session, where node is uid 0 and the
 * user's subordinate ids are mapped: lchown to the ids of the tar works for the
 * mapped ones, and the rest are refused with the fix.
 *
 * The tar is parsed here rather than with tar-stream: tar-stream decodes PAX
 * values as UTF-8, which mangles binary xattrs (security.capability), and it
 * ignores PAX uid, gid and mtime. The parser is a Writable that handles each
 * chunk synchronously (headers, sync metadata calls, writeSync of file data), so
 * a layer of many small files costs no event-loop round trip per file, and the
 * source is read no faster than the disk takes it.
 */
import {
  chmodSync,
  closeSync,
  constants,
  fchmodSync,
  fchownSync,
  futimesSync,
  lchownSync,
  linkSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  writeSync,
  type Stats,
} from 'node:fs';
import { Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { HutchError, SyscallError } from '../../errors.js';
import { native } from '../../native.js';
import { parseIdMap } from '../../host/identity.js';
import { ENTRY_COST, type SpaceMeter } from '../store/reserve.js';
import {
  cleanEntryName,
  cleanLinkTarget,
  LayerTree,
  MalformedLayerError,
  parentOf,
  UnsafeLayerError,
} from './layer-tree.js';
import { classifyWhiteout, markOpaque, writeWhiteout } from './whiteout.js';

export interface ExtractOptions {
  /** true: overlay metadata in user.* xattrs (rootless, overlay mounted with userxattr); false: trusted.* (real root). */
  userXattrs: boolean;
  /** Called once per kind of thing skipped, e.g. device nodes a user namespace may not create. */
  onWarning?: (message: string) => void;
  /**
   * Told of every entry (ENTRY_COST) and of file content before it is
   * written; its DiskReserveError stops the extraction (src/image/store/reserve.ts).
   */
  space?: SpaceMeter;
}

export interface ExtractStats {
  /** Tar members unpacked or skipped (PAX and GNU long-name headers not counted). */
  entries: number;
  /** Bytes of file content written. */
  bytes: number;
  /** Whiteouts and opaque markers. */
  whiteouts: number;
  skippedDevices: number;
}

/**
 * Unpacks an UNCOMPRESSED layer tar from source into target (an existing empty
 * dir), in overlayfs's format. Warnings are reported once the whole layer is
 * unpacked. On failure it stops reading (source is destroyed) and rejects, with
 * no file left open; what was written to target is the caller's to discard.
 * Reads source to its end, padding after the tar's end included, so a digest
 * computed upstream sees every byte.
 */
export async function extractLayer(source: Readable, target: string, options: ExtractOptions): Promise<ExtractStats> {
  const unpacker = new LayerUnpacker(target, options);
  await pipeline(source, unpacker);
  return { ...unpacker.stats };
}

// ---------------------------------------------------------------------------
// The tar format: POSIX ustar with PAX extended headers, and GNU's long names.

type EntryType = 'file' | 'directory' | 'symlink' | 'link' | 'char' | 'block' | 'fifo';

interface TarEntry {
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

// ---------------------------------------------------------------------------
// User namespace ids.

interface IdSpace {
  /** The id ranges inside the namespace, or undefined outside any (all ids usable). */
  ranges: { start: number; count: number }[] | undefined;
  count: number;
}

function readIdSpace(file: string): IdSpace {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return { ranges: undefined, count: 2 ** 32 };
  }
  const lines = parseIdMap(text);
  if (lines.some((l) => l.inside === 0 && l.outside === 0 && l.count === 4294967295)) {
    return { ranges: undefined, count: 2 ** 32 };
  }
  return {
    ranges: lines.map((l) => ({ start: l.inside, count: l.count })),
    count: lines.reduce((sum, l) => sum + l.count, 0),
  };
}

/** This process's umask (proc(5) has it since Linux 4.7); undefined when unknown. */
function readUmask(): number | undefined {
  try {
    const match = /^Umask:\s+([0-7]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    return match === null ? undefined : parseInt(match[1] as string, 8);
  } catch {
    return undefined;
  }
}

function mapped(space: IdSpace, id: number): boolean {
  if (space.ranges === undefined) return true;
  for (const r of space.ranges) if (id >= r.start && id < r.start + r.count) return true;
  return false;
}

function unmappedOwner(rel: string, kind: 'uid' | 'gid', id: number, space: IdSpace): HutchError {
  const restart = 'then stop the session so the next command maps them: pkill -u "$USER" -x hutch-session';
  if (space.count <= 1) {
    return new HutchError(`layer file ${rel} is owned by ${kind} ${id}, but your user namespace maps only id 0 (you)`, {
      hint:
        'your user has no subordinate ids: give it a range in /etc/subuid and /etc/subgid ' +
        `(sudo usermod --add-subuids 100000-165535 --add-subgids 100000-165535 "$USER"), ${restart}`,
    });
  }
  return new HutchError(
    `layer file ${rel} is owned by ${kind} ${id}, beyond the ${space.count} ids your user namespace maps`,
    {
      hint:
        `give your user more subordinate ids in /etc/subuid and /etc/subgid, at least ${id} ` +
        `(sudo usermod --add-subuids FIRST-LAST --add-subgids FIRST-LAST "$USER"), ${restart}`,
    },
  );
}

// ---------------------------------------------------------------------------
// The unpacker.

function errorCode(error: unknown): string | undefined {
  return (error as { code?: unknown }).code as string | undefined;
}

const S_ISGID = 0o2000;
const OPEN_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

/** Skipped things, reported once per kind when the layer is done. */
interface Skipped {
  count: number;
  first: string;
  describe(count: number, first: string): string;
}

class LayerUnpacker extends Writable {
  readonly stats: ExtractStats = { entries: 0, bytes: 0, whiteouts: 0, skippedDevices: 0 };
  private readonly tree: LayerTree;
  private readonly uids: IdSpace;
  private readonly gids: IdSpace;
  private readonly inUserNamespace: boolean;
  /**
   * Who owns what this process creates, and the umask: where a new file
   * already has the entry's owner and mode, the chown and chmod are skipped
   * (most files of an image are root's, 0644 or 0755).
   */
  private readonly ownUid = process.geteuid?.() ?? -1;
  private readonly ownGid = process.getegid?.() ?? -1;
  private readonly umask: number;
  /** Directories with the setgid bit: what is created in them takes their group. */
  private readonly setgidDirs = new Set<string>();
  private readonly skipped = new Map<string, Skipped>();
  /** Device nodes not created, so hard links to them are skipped too. */
  private readonly skippedDevices = new Set<string>();
  /** Directory times, set when everything inside was written. */
  private readonly dirTimes = new Map<string, [number, number]>();

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
  private file: { fd: number; rel: string; entry: TarEntry } | undefined;
  private entryName = '';

  constructor(
    target: string,
    private readonly options: ExtractOptions,
  ) {
    super({ highWaterMark: 1 << 20 });
    this.tree = new LayerTree(target);
    this.uids = readIdSpace('/proc/self/uid_map');
    this.gids = readIdSpace('/proc/self/gid_map');
    this.inUserNamespace = this.uids.ranges !== undefined;
    this.umask = readUmask() ?? 0o777;
    if ((lstatSync(this.tree.root).mode & S_ISGID) !== 0) this.setgidDirs.add('');
  }

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
      for (const [rel, [atime, mtime]] of this.dirTimes) lutimesSync(this.tree.path(rel), atime, mtime);
      for (const skipped of this.skipped.values())
        this.options.onWarning?.(skipped.describe(skipped.count, skipped.first));
      callback();
    } catch (error) {
      callback(error as Error);
    }
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (this.file !== undefined) {
      try {
        closeSync(this.file.fd);
      } catch {
        // already failing
      }
      this.file = undefined;
    }
    callback(error);
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
          const file = this.file as { fd: number; rel: string; entry: TarEntry };
          const n = Math.min(this.remaining, available);
          this.options.space?.use(n);
          let written = 0;
          while (written < n) written += writeSync(file.fd, chunk, at + written, n - written);
          at += n;
          this.offset += n;
          this.stats.bytes += n;
          this.remaining -= n;
          if (this.remaining === 0) {
            this.file = undefined;
            this.finishFile(file.fd, file.rel, file.entry);
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
    this.onEntry(this.decodeEntry(block, at, flag, size, headerOffset));
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

  // -------------------------------------------------------------------------
  // Entries.

  private onEntry(entry: TarEntry): void {
    this.options.space?.use(ENTRY_COST);
    this.stats.entries++;
    this.entryName = entry.name;
    if (entry.name.includes('\uFFFD')) {
      this.skip(
        'names',
        entry.name,
        (count, first) =>
          `${count} file name(s) of this layer are not UTF-8 (first: ${JSON.stringify(first)}): their invalid bytes were written as U+FFFD`,
      );
    }
    const rel = cleanEntryName(entry.name);
    const whiteout = classifyWhiteout(rel);
    switch (whiteout.kind) {
      case 'none':
        break;
      case 'meta':
        this.expectBody('skip', entry.size);
        return;
      case 'invalid':
        throw new UnsafeLayerError(entry.name, 'is a whiteout that names no file');
      case 'whiteout': {
        this.tree.ensureParent(entry.name, whiteout.target);
        this.removeAt(whiteout.target);
        this.skippedDevices.delete(whiteout.target);
        writeWhiteout(this.tree.path(whiteout.target));
        this.stats.whiteouts++;
        this.expectBody('skip', entry.size);
        return;
      }
      case 'opaque': {
        // The marker's parent is the opaque directory: make sure it is a real one.
        this.tree.ensureParent(entry.name, rel);
        markOpaque(this.tree.path(whiteout.dir), this.options.userXattrs);
        this.stats.whiteouts++;
        this.expectBody('skip', entry.size);
        return;
      }
    }
    if (rel === '') {
      if (entry.type !== 'directory') {
        throw new MalformedLayerError(
          `layer entry ${JSON.stringify(entry.name)} is the layer root but not a directory`,
        );
      }
      this.checkMapped('/', entry);
      this.applyMetadata('', this.tree.root, entry);
      this.dirTimes.set('', [entry.atime, entry.mtime]);
      if ((entry.mode & S_ISGID) !== 0) this.setgidDirs.add('');
      else this.setgidDirs.delete('');
      this.state = 'header';
      return;
    }
    // Before anything is written: lchown fails with EINVAL on an owner the namespace does not map
    // (a hard link has its target's owner).
    if (entry.type !== 'link') this.checkMapped(rel, entry);
    this.tree.ensureParent(entry.name, rel);
    // Whatever this entry makes replaces a device that was skipped there.
    if (this.skippedDevices.size > 0) this.skippedDevices.delete(rel);
    switch (entry.type) {
      case 'file':
        this.startFile(rel, entry);
        return;
      case 'directory':
        this.makeDirectory(rel, entry);
        break;
      case 'symlink':
        this.makeSymlink(rel, entry);
        break;
      case 'link':
        this.makeHardLink(rel, entry);
        break;
      case 'char':
      case 'block':
      case 'fifo':
        this.makeNode(rel, entry);
        break;
    }
    this.state = 'header';
  }

  private startFile(rel: string, entry: TarEntry): void {
    const path = this.tree.path(rel);
    // Created with its permission bits already (the fd is writable whatever they say).
    const mode = entry.mode & 0o777;
    let fd: number;
    try {
      fd = openSync(path, OPEN_FLAGS, mode);
    } catch (error) {
      if (errorCode(error) !== 'EEXIST') throw error;
      this.removeAt(rel);
      fd = openSync(path, OPEN_FLAGS, mode);
    }
    if (entry.size === 0) {
      this.finishFile(fd, rel, entry);
      this.state = 'header';
      return;
    }
    this.file = { fd, rel, entry };
    this.expectBody('file', entry.size);
  }

  /** Owner, xattrs, mode, times, in that order: chown(2) clears setuid bits and file capabilities. */
  private finishFile(fd: number, rel: string, entry: TarEntry): void {
    try {
      if (this.needsChown(rel, entry)) fchownSync(fd, entry.uid, entry.gid);
      if (entry.xattrs !== undefined) this.setXattrs(rel, this.tree.path(rel), entry.xattrs);
      // The umask took bits off, or there are setuid, setgid or sticky bits (which chown clears).
      if ((entry.mode & 0o7000) !== 0 || (entry.mode & this.umask) !== 0) fchmodSync(fd, entry.mode);
      futimesSync(fd, entry.atime, entry.mtime);
    } finally {
      closeSync(fd);
    }
  }

  private makeDirectory(rel: string, entry: TarEntry): void {
    const path = this.tree.path(rel);
    // A later entry for a directory updates its metadata; anything else at the path goes.
    if (!this.tree.isKnownDir(rel)) {
      try {
        mkdirSync(path, 0o700);
      } catch (error) {
        if (errorCode(error) !== 'EEXIST') throw error;
        const stat = lstatSync(path);
        if (!stat.isDirectory()) {
          this.remove(rel, stat);
          mkdirSync(path, 0o700);
        }
      }
    }
    this.tree.addDir(rel);
    this.applyMetadata(rel, path, entry);
    this.dirTimes.set(rel, [entry.atime, entry.mtime]);
    if ((entry.mode & S_ISGID) !== 0) this.setgidDirs.add(rel);
    else this.setgidDirs.delete(rel);
  }

  private makeSymlink(rel: string, entry: TarEntry): void {
    // The target is data: it may point anywhere, and is never followed here; symlink(2) takes no empty
    // one (ENOENT), and a NUL would cut it short.
    if (entry.linkname === '' || entry.linkname.includes('\0')) {
      throw new MalformedLayerError(
        `layer entry ${JSON.stringify(entry.name)} is a symbolic link to ${entry.linkname === '' ? 'an empty name' : 'a name with a NUL byte'}`,
      );
    }
    this.create(rel, (path) => symlinkSync(entry.linkname, path));
    const path = this.tree.path(rel);
    if (this.needsChown(rel, entry)) lchownSync(path, entry.uid, entry.gid);
    if (entry.xattrs !== undefined) this.setXattrs(rel, path, entry.xattrs);
    lutimesSync(path, entry.atime, entry.mtime);
  }

  private makeHardLink(rel: string, entry: TarEntry): void {
    const target = cleanLinkTarget(entry.name, entry.linkname);
    if (target === rel) return;
    if (this.skippedDevices.has(target)) {
      this.skipDevice(rel);
      return;
    }
    const stat = this.tree.checkLinkTarget(entry.name, target);
    if (stat.isDirectory()) {
      throw new MalformedLayerError(
        `layer entry ${JSON.stringify(entry.name)} is a hard link to the directory ${JSON.stringify(target)}`,
      );
    }
    // The link shares the target's inode, and with it the target's metadata.
    const targetPath = this.tree.path(target);
    this.create(rel, (path) => linkSync(targetPath, path));
  }

  private makeNode(rel: string, entry: TarEntry): void {
    const kind =
      entry.type === 'char' ? constants.S_IFCHR : entry.type === 'block' ? constants.S_IFBLK : constants.S_IFIFO;
    const isDevice = entry.type !== 'fifo';
    try {
      this.create(rel, (path) =>
        native.mknod(path, kind | (entry.mode & 0o777), isDevice ? entry.devmajor : 0, isDevice ? entry.devminor : 0),
      );
    } catch (error) {
      if (isDevice && this.inUserNamespace && errorCode(error) === 'EPERM') {
        this.skipDevice(rel);
        return;
      }
      throw error;
    }
    this.applyMetadata(rel, this.tree.path(rel), entry);
    lutimesSync(this.tree.path(rel), entry.atime, entry.mtime);
  }

  /**
   * Owner, xattrs, then mode of something that is not a symlink and is not open
   * (a directory, a device, a fifo). chmodSync follows a symlink, but path was
   * just made or checked by this extractor and nothing else writes here.
   */
  private applyMetadata(rel: string, path: string, entry: TarEntry): void {
    if (this.needsChown(rel, entry)) lchownSync(path, entry.uid, entry.gid);
    if (entry.xattrs !== undefined) this.setXattrs(rel, path, entry.xattrs);
    chmodSync(path, entry.mode);
  }

  private checkMapped(rel: string, entry: TarEntry): void {
    if (!mapped(this.uids, entry.uid)) throw unmappedOwner(rel, 'uid', entry.uid, this.uids);
    if (!mapped(this.gids, entry.gid)) throw unmappedOwner(rel, 'gid', entry.gid, this.gids);
  }

  /**
   * Whether what was just created at rel needs chown(2) to get the entry's
   * owner: not when it is ours already and its directory is not setgid.
   */
  private needsChown(rel: string, entry: TarEntry): boolean {
    return entry.uid !== this.ownUid || entry.gid !== this.ownGid || rel === '' || this.setgidDirs.has(parentOf(rel));
  }

  private setXattrs(rel: string, path: string, xattrs: Map<string, Buffer>): void {
    for (const [name, value] of xattrs) {
      // Overlay's own metadata (opaque, redirect, metacopy, origin) comes from
      // whiteout entries only: a layer must not steer overlay's lookups.
      if (name.startsWith('trusted.overlay.') || name.startsWith('user.overlay.')) {
        this.skip(
          `xattr ${name}`,
          rel,
          (count, first) =>
            `skipped the xattr ${name} on ${count} file(s) of this layer (first: ${first}): overlay metadata is not taken from layer tars`,
        );
        continue;
      }
      try {
        native.setxattr(path, name, value);
      } catch (error) {
        const code = error instanceof SyscallError ? error.code : undefined;
        // A value the kernel cannot take (a security.capability of the wrong size, say): the tar is wrong.
        if (code === 'EINVAL') {
          throw new MalformedLayerError(
            `layer entry ${JSON.stringify(rel)} has an xattr ${name} whose value the kernel refuses (${(error as Error).message})`,
          );
        }
        const unsupported = code === 'ENOTSUP' || code === 'EOPNOTSUPP';
        // user.* xattrs exist on files and directories only; a user namespace may not set trusted.*.
        const refused = code === 'EPERM' && (this.inUserNamespace || name.startsWith('user.'));
        if (!unsupported && !refused) throw error;
        const why = unsupported ? 'the file system does not support it' : 'it may not be set here';
        this.skip(
          `xattr ${name}`,
          rel,
          (count, first) =>
            `skipped the xattr ${name} on ${count} file(s) of this layer (first: ${first}): ${why} (${code})`,
        );
      }
    }
  }

  /** A device node a user namespace may not create (or a hard link to one). */
  private skipDevice(rel: string): void {
    this.stats.skippedDevices++;
    this.skippedDevices.add(rel);
    this.skip(
      'devices',
      rel,
      (count, first) =>
        `skipped ${count} device node(s) of this layer (first: ${first}): a user namespace may not create devices; ` +
        'containers get theirs from the runtime',
    );
  }

  private skip(kind: string, rel: string, describe: (count: number, first: string) => string): void {
    const known = this.skipped.get(kind);
    if (known !== undefined) known.count++;
    else this.skipped.set(kind, { count: 1, first: rel, describe });
  }

  /**
   * make(path) creates rel; when something is in the way (EEXIST), it is
   * removed and make is tried once more. A non-directory entry replaces what
   * was there, a directory included, as in containers/storage.
   */
  private create(rel: string, make: (path: string) => void): void {
    const path = this.tree.path(rel);
    try {
      make(path);
    } catch (error) {
      if (errorCode(error) !== 'EEXIST') throw error;
      this.removeAt(rel);
      make(path);
    }
  }

  private removeAt(rel: string): void {
    const stat = lstatSync(this.tree.path(rel), { throwIfNoEntry: false });
    if (stat !== undefined) this.remove(rel, stat);
  }

  /** Removes rel (never following a symlink) and forgets what was known of it and below it. */
  private remove(rel: string, stat: Stats): void {
    const path = this.tree.path(rel);
    if (!stat.isDirectory()) {
      unlinkSync(path);
      return;
    }
    rmSync(path, { recursive: true, force: true });
    this.tree.forget(rel);
    const prefix = `${rel}/`;
    for (const dir of this.dirTimes.keys()) if (dir === rel || dir.startsWith(prefix)) this.dirTimes.delete(dir);
  }
}
