/**
 * `hutch cp - CONTAINER:DIR`: a tar archive read from a stream (plain, gzip,
 * bzip2, xz or zstd, told by its first bytes) unpacked into a directory
 * through an EntryWriter. Member names are cleaned as if the directory were
 * "/": an absolute name or a ".." cannot climb out of it, and neither can a
 * hard link. Input that does not begin with a tar member is refused before
 * anything is written (NotAnArchiveError), as podman refuses it.
 */
import { closeSync } from 'node:fs';
import { posix } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { HutchError } from '../../errors.js';
import { decompressArchive, detectArchiveCompression } from '../../image/layer/compression.js';
import { TarReader, type TarEntry } from '../../image/layer/tar-reader.js';
import { EntryWriter, type CopyEntry } from './entry-writer.js';

/** The input is no tar archive (nor a compressed one): nothing was written. */
export class NotAnArchiveError extends HutchError {
  constructor(cause?: unknown) {
    super('the input is not a (compressed) tar archive', { cause });
    this.name = 'NotAnArchiveError';
  }
}

/** A member name relative to the destination: "" for the destination itself. */
function memberName(name: string): string {
  return posix.normalize(`/${name}`).replace(/^\/+|\/+$/g, '');
}

class TarIntoWriter extends TarReader {
  /** Members seen (headers decoded). */
  members = 0;
  private file: { entry: CopyEntry; fd: number } | undefined;

  constructor(private readonly writer: EntryWriter) {
    super();
  }

  protected onEntry(member: TarEntry): boolean {
    this.members++;
    const name = memberName(member.name);
    if (name === '') return false; // "./": the destination directory, which is there already
    if (member.type === 'link') {
      const target = memberName(member.linkname);
      if (target === '') throw new HutchError(`tar member ${JSON.stringify(member.name)} is a hard link to nothing`);
      this.writer.hardlink(name, target);
      return false;
    }
    const entry: CopyEntry = {
      name,
      kind: member.type,
      mode: member.mode,
      uid: member.uid,
      gid: member.gid,
      atime: new Date(member.atime * 1000),
      mtime: new Date(member.mtime * 1000),
      xattrs: member.xattrs ?? new Map(),
    };
    switch (member.type) {
      case 'directory':
        this.writer.directory(entry);
        return false;
      case 'symlink':
        this.writer.symlink({ ...entry, linkTarget: member.linkname });
        return false;
      case 'file':
        this.file = { entry, fd: this.writer.file(entry) };
        return true;
      default:
        this.writer.special({ ...entry, major: member.devmajor, minor: member.devminor });
        return false;
    }
  }

  protected onContent(chunk: Buffer, at: number, length: number): void {
    if (this.file !== undefined) EntryWriter.write(this.file.fd, chunk, at, length);
  }

  protected onContentEnd(): void {
    const file = this.file;
    this.file = undefined;
    if (file !== undefined) this.writer.fileDone(file.entry, file.fd);
  }

  protected onEnd(): void {
    if (this.members === 0) throw new NotAnArchiveError();
    this.writer.close();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (this.file !== undefined) closeSync(this.file.fd);
    this.file = undefined;
    callback(error);
  }
}

/** The first bytes of a stream, and the whole stream again (those bytes included). */
async function peek(input: Readable, length: number): Promise<{ head: Buffer; stream: Readable }> {
  const iterator = (input as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
  const chunks: Buffer[] = [];
  let size = 0;
  let done = false;
  while (size < length) {
    const next = await iterator.next();
    if (next.done === true) {
      done = true;
      break;
    }
    chunks.push(next.value);
    size += next.value.length;
  }
  const head = Buffer.concat(chunks);
  async function* all(): AsyncGenerator<Buffer> {
    yield head;
    if (done) return;
    for (;;) {
      const next = await iterator.next();
      if (next.done === true) return;
      yield next.value;
    }
  }
  return { head, stream: Readable.from(all(), { objectMode: false }) };
}

/** Unpacks the tar archive read from input into the writer's destination; the writer is closed after. */
export async function untarInto(input: Readable, writer: EntryWriter): Promise<void> {
  const { head, stream } = await peek(input, 6);
  // Outside the try: a decompressor that is not installed is that error, not a bad archive.
  const decompress = decompressArchive(detectArchiveCompression(head));
  const reader = new TarIntoWriter(writer);
  try {
    await pipeline(stream, decompress, reader);
  } catch (error) {
    if (reader.members === 0 && !(error instanceof NotAnArchiveError)) throw new NotAnArchiveError(error);
    throw error;
  }
}
