/**
 * The content hashes of a context's files from the builds before, so that a
 * rebuild does not read (and hash) every file COPY names again: a file whose
 * path, inode, size, mtime and ctime are those recorded has the recorded
 * hash. One small JSON file per context directory under
 * `<storage>/build-cache/file-hashes/`. As git's index does, a file changed
 * within the last seconds before it was hashed is not recorded (a second
 * write within the clock's granularity would keep its times).
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { sha256 } from './state.js';
import { writeFileAtomic } from '../fs/atomic-write.js';

/** How long a file must have been left alone before its hash is trusted by times. */
const SETTLED_MS = 2000;
/** An index larger than this is rewritten with this build's entries only. */
const MAX_ENTRIES = 100_000;

export interface HashedFile {
  absolute: string;
  inode: string;
  size: number;
  mtimeMs: number;
  ctimeMs?: number | undefined;
}

export class FileHashIndex {
  private readonly known: Map<string, string>;
  private readonly used = new Map<string, string>();

  private constructor(
    private readonly path: string,
    known: Map<string, string>,
  ) {
    this.known = known;
  }

  /** The index of a context directory (empty when there is none or it cannot be read). */
  static load(dir: string, contextRoot: string): FileHashIndex {
    const path = join(dir, `${sha256(contextRoot).slice(0, 32)}.json`);
    let known = new Map<string, string>();
    try {
      const parsed = JSON.parse(readFileSync(path, 'utf8')) as unknown;
      if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) {
        known = new Map(
          Object.entries(parsed as Record<string, unknown>).filter(
            (e): e is [string, string] => typeof e[1] === 'string' && /^[0-9a-f]{64}$/.test(e[1]),
          ),
        );
      }
    } catch {
      // none yet, or unreadable: every file is hashed
    }
    return new FileHashIndex(path, known);
  }

  private static key(file: HashedFile): string | undefined {
    if (file.ctimeMs === undefined || file.inode === '') return undefined;
    return `${file.absolute}\0${file.inode}\0${file.size}\0${file.mtimeMs}\0${file.ctimeMs}`;
  }

  get(file: HashedFile): string | undefined {
    const key = FileHashIndex.key(file);
    if (key === undefined) return undefined;
    const hash = this.known.get(key);
    if (hash !== undefined) this.used.set(key, hash);
    return hash;
  }

  /** Records a hash just computed, unless the file changed too recently to be told apart by its times. */
  set(file: HashedFile, hash: string, hashedAt: number): void {
    const key = FileHashIndex.key(file);
    if (key === undefined || file.ctimeMs === undefined) return;
    if (hashedAt - Math.max(file.mtimeMs, file.ctimeMs) < SETTLED_MS) return;
    this.used.set(key, hash);
  }

  /**
   * Writes the entries this build used, with those of earlier builds while
   * the index stays small (a failed build still keeps what it did not reach).
   * Atomic; a cache that cannot be written is only slower next time.
   */
  save(): void {
    const merged = new Map(this.used);
    if (this.known.size + this.used.size <= MAX_ENTRIES) {
      for (const [key, hash] of this.known) if (!merged.has(key)) merged.set(key, hash);
    }
    if (merged.size === this.known.size && [...merged].every(([k, v]) => this.known.get(k) === v)) return;
    try {
      mkdirSync(join(this.path, '..'), { recursive: true, mode: 0o700 });
      writeFileAtomic(this.path, JSON.stringify(Object.fromEntries(merged)));
    } catch {
      // a full disk or a read-only store: the next build hashes again
    }
  }
}
