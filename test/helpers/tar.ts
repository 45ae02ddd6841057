/**
 * Layer tars built in memory with tar-stream, including hostile ones (umoci's
 * way: the attacks live in the tests). tar-stream writes PAX values as UTF-8
 * text, so an entry with a binary xattr (security.capability) gets its PAX
 * header from ustarHeader() here, and tar-stream writes the entry after it.
 */
import { posix } from 'node:path';
import { pack } from 'tar-stream';
import { writeTarNumber } from './tar-number.js';

export interface EntryMeta {
  uid?: number;
  gid?: number;
  /** Permission bits with setuid, setgid, sticky; tar-stream's default when 0 or absent. */
  mode?: number;
  /** Seconds since the epoch. */
  mtime?: number;
  /** PAX SCHILY.xattr.NAME records. */
  xattrs?: Record<string, string | Buffer>;
}

type TarType = 'file' | 'directory' | 'symlink' | 'link' | 'character-device' | 'block-device' | 'fifo';

interface Item {
  /** Bytes written as they are (raw()), instead of an entry. */
  raw?: Buffer;
  name: string;
  type: TarType;
  body?: Buffer;
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  meta: EntryMeta;
}

const DEFAULT_MTIME = 1_700_000_000;

export class TarBuilder {
  private readonly items: Item[] = [];

  file(name: string, content: string | Buffer = '', meta: EntryMeta = {}): this {
    return this.add({ name, type: 'file', body: Buffer.from(content), meta });
  }

  dir(name: string, meta: EntryMeta = {}): this {
    return this.add({ name, type: 'directory', meta });
  }

  symlink(name: string, target: string, meta: EntryMeta = {}): this {
    return this.add({ name, type: 'symlink', linkname: target, meta });
  }

  /** A hard link to target, an earlier entry (names as the tar has them). */
  hardlink(name: string, target: string, meta: EntryMeta = {}): this {
    return this.add({ name, type: 'link', linkname: target, meta });
  }

  charDevice(name: string, major: number, minor: number, meta: EntryMeta = {}): this {
    return this.add({ name, type: 'character-device', devmajor: major, devminor: minor, meta });
  }

  blockDevice(name: string, major: number, minor: number, meta: EntryMeta = {}): this {
    return this.add({ name, type: 'block-device', devmajor: major, devminor: minor, meta });
  }

  fifo(name: string, meta: EntryMeta = {}): this {
    return this.add({ name, type: 'fifo', meta });
  }

  /** Deletes path of the layers below: an empty file DIR/.wh.NAME. */
  whiteout(path: string): this {
    const dir = posix.dirname(path);
    return this.file(`${dir === '.' ? '' : `${dir}/`}.wh.${posix.basename(path)}`);
  }

  /** Hides what the layers below have in dir: an empty file DIR/.wh..wh..opq. */
  opaque(dir: string): this {
    return this.file(`${dir.replace(/\/$/, '')}/.wh..wh..opq`);
  }

  /** Bytes as they are: hand-made headers (ustarHeader) and bodies, whole blocks. */
  raw(bytes: Buffer): this {
    return this.add({ raw: bytes, name: '', type: 'file', meta: {} });
  }

  get size(): number {
    return this.items.length;
  }

  private add(item: Item): this {
    this.items.push(item);
    return this;
  }

  /** The tar, ending in the two zero blocks. */
  async toBuffer(): Promise<Buffer> {
    const segments: Buffer[] = [];
    let run: Item[] = [];
    for (const item of this.items) {
      if (item.raw !== undefined) {
        segments.push(await packRun(run), item.raw);
        run = [];
        continue;
      }
      const binary = Object.values(item.meta.xattrs ?? {}).some((v) => Buffer.isBuffer(v));
      if (!binary) {
        run.push(item);
        continue;
      }
      segments.push(await packRun(run));
      run = [];
      // Our own PAX header (it carries the names too), then tar-stream's header
      // for the entry, under a short name the PAX path overrides.
      const records: [string, Buffer][] = [['path', Buffer.from(item.name)]];
      if (item.linkname !== undefined) records.push(['linkpath', Buffer.from(item.linkname)]);
      for (const [name, value] of Object.entries(item.meta.xattrs ?? {})) {
        records.push([`SCHILY.xattr.${name}`, Buffer.from(value)]);
      }
      const meta = { ...item.meta, xattrs: undefined };
      for (const key of ['uid', 'gid'] as const) {
        if ((meta[key] ?? 0) <= 0o777777) continue;
        records.push([key, Buffer.from(String(meta[key]))]);
        meta[key] = 0;
      }
      segments.push(paxHeader(records));
      segments.push(await packRun([{ ...item, name: 'entry', linkname: item.linkname && 'link', meta }]));
    }
    segments.push(await packRun(run));
    segments.push(Buffer.alloc(1024));
    return Buffer.concat(segments);
  }
}

/** tar-stream's bytes for items, without the end-of-archive blocks. */
async function packRun(items: Item[]): Promise<Buffer> {
  if (items.length === 0) return Buffer.alloc(0);
  const stream = pack();
  const chunks: Buffer[] = [];
  const done = new Promise<void>((resolve, reject) => {
    stream.on('data', (chunk: unknown) => {
      chunks.push(chunk as Buffer);
    });
    stream.on('end', () => resolve());
    stream.on('error', reject);
  });
  for (const item of items) {
    const records: Record<string, string> = {};
    for (const [name, value] of Object.entries(item.meta.xattrs ?? {})) records[`SCHILY.xattr.${name}`] = String(value);
    // ustar's 7 octal digits stop at 2097151, and tar-stream writes 6: larger ids go in PAX records.
    const uid = item.meta.uid ?? 0;
    const gid = item.meta.gid ?? 0;
    if (uid > 0o777777) records.uid = String(uid);
    if (gid > 0o777777) records.gid = String(gid);
    const pax = Object.keys(records).length === 0 ? undefined : records;
    stream.entry(
      {
        name: item.name,
        type: item.type,
        mode: item.meta.mode,
        uid: uid > 0o777777 ? 0 : uid,
        gid: gid > 0o777777 ? 0 : gid,
        mtime: new Date((item.meta.mtime ?? DEFAULT_MTIME) * 1000),
        linkname: item.linkname,
        devmajor: item.devmajor,
        devminor: item.devminor,
        ...(pax === undefined ? {} : { pax }),
      },
      item.body ?? Buffer.alloc(0),
    );
  }
  stream.finalize();
  await done;
  const all = Buffer.concat(chunks);
  return all.subarray(0, all.length - 1024);
}

/** Raw header fields for ustarHeader(). */
export interface RawHeader {
  name: string;
  typeflag: string;
  size?: number;
  mode?: number;
  uid?: number;
  gid?: number;
  mtime?: number;
  linkname?: string;
  /** ustar (POSIX, the default), gnu ("ustar  "), or v7 (no magic). */
  format?: 'ustar' | 'gnu' | 'v7';
  /** Write numbers in base 256 (GNU's encoding for values octal cannot hold). */
  base256?: boolean;
}

/**
 * A tar header block written by hand, for what tar-stream cannot write: PAX
 * headers with binary values, GNU long names, base-256 numbers, old formats.
 */

export function ustarHeader(header: RawHeader): Buffer {
  const block = Buffer.alloc(512);
  const number = (value: number, at: number, length: number) =>
    writeTarNumber(block, value, at, length, header.base256 === true);
  block.write(header.name, 0, 100, 'utf8');
  number(header.mode ?? 0o644, 100, 8);
  number(header.uid ?? 0, 108, 8);
  number(header.gid ?? 0, 116, 8);
  number(header.size ?? 0, 124, 12);
  number(header.mtime ?? DEFAULT_MTIME, 136, 12);
  block.write(header.typeflag, 156, 1, 'latin1');
  if (header.linkname !== undefined) block.write(header.linkname, 157, 100, 'utf8');
  const format = header.format ?? 'ustar';
  if (format === 'ustar') block.write('ustar\0' + '00', 257, 8, 'latin1');
  if (format === 'gnu') block.write('ustar  \0', 257, 8, 'latin1');
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'latin1');
  return block;
}

/** A body padded with zeros to whole blocks. */
export function blocks(body: Buffer | string): Buffer {
  const bytes = Buffer.from(body);
  return Buffer.concat([bytes, Buffer.alloc((512 - (bytes.length % 512)) % 512)]);
}

/** A PAX extended header ('x') with raw byte values, padded to whole blocks. */
export function paxHeader(records: [string, Buffer][]): Buffer {
  const bodies = records.map(([key, value]) => {
    const rest = Buffer.concat([Buffer.from(` ${key}=`), value, Buffer.from('\n')]);
    // The length counts its own digits.
    let length = rest.length + 1;
    while (String(length).length + rest.length !== length) length = String(length).length + rest.length;
    return Buffer.concat([Buffer.from(String(length)), rest]);
  });
  const body = Buffer.concat(bodies);
  return Buffer.concat([ustarHeader({ name: 'PaxHeader', typeflag: 'x', size: body.length }), blocks(body)]);
}

export interface HostileLayer {
  name: string;
  tar: TarBuilder;
  /** The message extraction must fail with; undefined when it must succeed without harm. */
  rejects: RegExp | undefined;
}

/**
 * Layers that try to write, link or mark outside the directory they are
 * unpacked into. outside is an absolute directory; fromTarget the same
 * directory relative to the extraction target (e.g. ../outside). It holds a
 * file named secret.
 */
export function hostileLayers(outside: string, fromTarget: string): HostileLayer[] {
  const unsafe = (detail: string) => new RegExp(`${detail}.*the layer is rejected as unsafe`);
  return [
    {
      name: 'absolute name',
      tar: new TarBuilder().file(`${outside}/pwned-absolute`, 'x'),
      rejects: unsafe(`"${outside}/pwned-absolute" has an absolute path`),
    },
    {
      name: '.. escape',
      tar: new TarBuilder().dir('a/').file(`a/../${fromTarget}/pwned-dotdot`, 'x'),
      rejects: unsafe('climbs out of the layer root through ".."'),
    },
    {
      name: '.. escape hidden in a PAX path',
      tar: new TarBuilder().file(`x/${'y'.repeat(100)}/../../${fromTarget}/pwned-pax`, 'x'),
      rejects: unsafe('climbs out of the layer root'),
    },
    {
      name: 'write through an absolute symlink',
      tar: new TarBuilder().symlink('evil', outside).file('evil/pwned-symlink', 'x'),
      rejects: unsafe('"evil/pwned-symlink" would be written through the symlink "evil"'),
    },
    {
      name: 'write through a relative symlink',
      tar: new TarBuilder().dir('d/').symlink('d/up', `../${fromTarget}`).file('d/up/pwned-relative', 'x'),
      rejects: unsafe('would be written through the symlink "d/up"'),
    },
    {
      name: 'directory through a symlink',
      tar: new TarBuilder().symlink('evil', outside).dir('evil/sub/'),
      rejects: unsafe('would be written through the symlink "evil"'),
    },
    {
      name: 'whiteout through a symlink',
      tar: new TarBuilder().symlink('evil', outside).whiteout('evil/secret'),
      rejects: unsafe('would be written through the symlink "evil"'),
    },
    {
      name: 'opaque marker through a symlink',
      tar: new TarBuilder().symlink('evil', outside).opaque('evil'),
      rejects: unsafe('would be written through the symlink "evil"'),
    },
    {
      name: 'hard link to an outside path',
      tar: new TarBuilder().hardlink('stolen', `${fromTarget}/secret`),
      rejects: unsafe('is a hard link to .*climbs out of the layer'),
    },
    {
      name: 'hard link to an absolute path',
      tar: new TarBuilder().hardlink('stolen', `${outside}/secret`),
      rejects: unsafe('is a hard link to .*is an absolute path outside the layer'),
    },
    {
      name: 'hard link through a symlink',
      tar: new TarBuilder().symlink('evil', outside).hardlink('stolen', 'evil/secret'),
      rejects: unsafe('is a hard link to "evil/secret", which is reached through the symlink "evil"'),
    },
    {
      name: 'hard link to nothing',
      tar: new TarBuilder().hardlink('stolen', 'nope'),
      rejects: unsafe('is a hard link to "nope", which does not exist in the layer'),
    },
    {
      // Not an error: the directory entry replaces the symlink, and the file lands inside the layer.
      name: 'symlink, then a directory at the same path, then a file inside',
      tar: new TarBuilder().symlink('d', outside).dir('d/').file('d/pwned-dir', 'x'),
      rejects: undefined,
    },
  ];
}
