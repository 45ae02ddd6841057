/**
 * The writing side of layer tars: POSIX ustar headers with PAX records for
 * what does not fit (long names and link targets, big sizes, ids and times,
 * SCHILY.xattr.NAME values as raw bytes), and a stream of entries pulled as
 * the consumer reads. The reading side is tar-reader.ts; the trees to write
 * come from diff.ts.
 *
 * The tar is written here rather than with tar-stream, whose PAX writer takes
 * values as text and counts record lengths in characters: binary xattrs
 * (security.capability) and non-ASCII names would come out corrupt. Owners are
 * numeric with empty user and group names, so equal entries give equal bytes.
 */
import { closeSync, readSync } from 'node:fs';
import { Readable } from 'node:stream';

export type TarType = 'file' | 'directory' | 'symlink' | 'link' | 'char' | 'block' | 'fifo';

export interface TarHeader {
  /** Relative, no leading "./" or "/"; a directory's without its trailing "/" (added here). */
  name: string;
  type: TarType;
  /** Permission bits with setuid, setgid and sticky. */
  mode: number;
  uid: number;
  gid: number;
  /** Bytes of content (files only). */
  size: number;
  /** Seconds since the epoch (whole seconds are written). */
  mtime: number;
  /** A symlink's target, or the earlier entry a hard link names. */
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  /** Written as PAX SCHILY.xattr.NAME records, values as raw bytes. */
  xattrs?: Map<string, Buffer>;
}

const BLOCK = 512;
const TYPEFLAG: Record<TarType, string> = {
  file: '0',
  link: '1',
  symlink: '2',
  char: '3',
  block: '4',
  directory: '5',
  fifo: '6',
};

/** The largest value of an octal field of `width` bytes (one byte for the NUL). */
const maxOctal = (width: number) => 8 ** (width - 1) - 1;

function writeString(block: Buffer, value: Buffer, at: number, width: number): void {
  value.copy(block, at, 0, Math.min(value.length, width));
}

function writeOctal(block: Buffer, value: number, at: number, width: number): void {
  block.write(
    `${Math.trunc(value)
      .toString(8)
      .padStart(width - 1, '0')}\0`,
    at,
    width,
    'latin1',
  );
}

/** One PAX record: `LENGTH KEY=VALUE\n`, LENGTH counting itself, in bytes. */
function paxRecord(key: string, value: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(` ${key}=`), value, Buffer.from('\n')]);
  let length = body.length + 1;
  while (String(length).length + body.length !== length) length = String(length).length + body.length;
  return Buffer.concat([Buffer.from(String(length)), body]);
}

function ustarBlock(fields: {
  name: Buffer;
  prefix: Buffer;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  typeflag: string;
  linkname: Buffer;
  devmajor: number;
  devminor: number;
}): Buffer {
  const block = Buffer.alloc(BLOCK);
  writeString(block, fields.name, 0, 100);
  writeOctal(block, fields.mode, 100, 8);
  writeOctal(block, fields.uid, 108, 8);
  writeOctal(block, fields.gid, 116, 8);
  writeOctal(block, fields.size, 124, 12);
  writeOctal(block, fields.mtime, 136, 12);
  block.write(fields.typeflag, 156, 1, 'latin1');
  writeString(block, fields.linkname, 157, 100);
  block.write('ustar\0' + '00', 257, 8, 'latin1');
  writeOctal(block, fields.devmajor, 329, 8);
  writeOctal(block, fields.devminor, 337, 8);
  writeString(block, fields.prefix, 345, 155);
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'latin1');
  return block;
}

/** Splits a name into ustar's prefix and name fields; undefined when it does not fit. */
function splitName(name: Buffer): { prefix: Buffer; name: Buffer } | undefined {
  if (name.length <= 100) return { prefix: Buffer.alloc(0), name };
  for (let i = name.length - 1; i > 0; i--) {
    if (name[i] !== 0x2f) continue;
    if (i <= 155 && name.length - i - 1 <= 100 && name.length - i - 1 > 0) {
      return { prefix: name.subarray(0, i), name: name.subarray(i + 1) };
    }
  }
  return undefined;
}

/** The header blocks of an entry: a PAX header first when a field does not fit ustar. */
export function encodeHeader(header: TarHeader): Buffer {
  const fullName = Buffer.from(header.type === 'directory' ? `${header.name}/` : header.name);
  const linkname = Buffer.from(header.linkname ?? '');
  const records: Buffer[] = [];
  const split = splitName(fullName);
  if (split === undefined) records.push(paxRecord('path', fullName));
  if (linkname.length > 100) records.push(paxRecord('linkpath', linkname));
  const size = header.type === 'file' ? header.size : 0;
  if (size > maxOctal(12)) records.push(paxRecord('size', Buffer.from(String(size))));
  if (header.uid > maxOctal(8)) records.push(paxRecord('uid', Buffer.from(String(header.uid))));
  if (header.gid > maxOctal(8)) records.push(paxRecord('gid', Buffer.from(String(header.gid))));
  const mtime = Math.max(0, Math.trunc(header.mtime));
  if (mtime > maxOctal(12)) records.push(paxRecord('mtime', Buffer.from(String(mtime))));
  for (const [name, value] of [...(header.xattrs ?? new Map<string, Buffer>())].sort(([a], [b]) =>
    a < b ? -1 : a > b ? 1 : 0,
  )) {
    records.push(paxRecord(`SCHILY.xattr.${name}`, value));
  }
  const main = ustarBlock({
    name: split?.name ?? fullName.subarray(0, 100),
    prefix: split?.prefix ?? Buffer.alloc(0),
    mode: header.mode & 0o7777,
    uid: Math.min(header.uid, maxOctal(8)),
    gid: Math.min(header.gid, maxOctal(8)),
    size: Math.min(size, maxOctal(12)),
    mtime: Math.min(mtime, maxOctal(12)),
    typeflag: TYPEFLAG[header.type],
    linkname: linkname.subarray(0, 100),
    devmajor: header.devmajor ?? 0,
    devminor: header.devminor ?? 0,
  });
  if (records.length === 0) return main;
  const body = Buffer.concat(records);
  // Go's archive/tar names PAX headers DIR/PaxHeaders.0/BASE; readers ignore the name.
  const slash = header.name.lastIndexOf('/');
  const paxName = Buffer.from(
    `${slash < 0 ? '' : `${header.name.slice(0, slash)}/`}PaxHeaders.0/${header.name.slice(slash + 1)}`,
  ).subarray(0, 100);
  const pax = ustarBlock({
    name: paxName,
    prefix: Buffer.alloc(0),
    mode: 0o644,
    uid: 0,
    gid: 0,
    size: body.length,
    mtime: 0,
    typeflag: 'x',
    linkname: Buffer.alloc(0),
    devmajor: 0,
    devminor: 0,
  });
  return Buffer.concat([pax, body, Buffer.alloc(padding(body.length)), main]);
}

function padding(size: number): number {
  return (BLOCK - (size % BLOCK)) % BLOCK;
}

/** What tarStream writes for one entry: its header, and for a file the fd to read its content from. */
export interface TarItem {
  header: TarHeader;
  /** An open fd of the file's content (closed by the writer). */
  fd?: number;
}

const CHUNK = 1 << 20;

/**
 * A tar stream of items, pulled as the consumer reads (backpressure). A file
 * is written with exactly its header's size: bytes beyond are dropped, a file
 * that shrank meanwhile is padded with zeros (as GNU tar does). Destroying the
 * stream stops the walk and closes the open fd.
 */
export function tarStream(items: Iterable<TarItem>): Readable {
  async function* generate(): AsyncGenerator<Buffer> {
    for (const item of items) {
      const { header, fd } = item;
      try {
        yield encodeHeader(header);
        if (header.type !== 'file' || fd === undefined) continue;
        let left = header.size;
        const buffer = Buffer.alloc(Math.min(CHUNK, Math.max(left, 1)));
        while (left > 0) {
          const n = readSync(fd, buffer, 0, Math.min(buffer.length, left), null);
          if (n === 0) break;
          left -= n;
          yield Buffer.from(buffer.subarray(0, n));
        }
        if (left > 0) yield Buffer.alloc(left);
        const pad = padding(header.size);
        if (pad > 0) yield Buffer.alloc(pad);
      } finally {
        if (fd !== undefined) closeSync(fd);
      }
    }
    yield Buffer.alloc(2 * BLOCK);
  }
  return Readable.from(generate(), { objectMode: false, highWaterMark: CHUNK });
}
