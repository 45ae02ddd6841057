/**
 * The build context: the directory COPY and ADD read from, seen through its
 * ignore file (`.containerignore`, else `.dockerignore`). What it offers the
 * executor:
 *
 * - `resolveSources`: COPY/ADD sources → what to copy. A source is a path
 *   relative to the context (a leading `/` too, as Docker reads it) with Go
 *   `filepath.Match` wildcards per path element (`**` is just two stars, as in
 *   Docker); a directory is copied by its content; a named symlink is
 *   followed, symlinks inside a copied directory are copied as links.
 *   Leaving the context (`../x`, or a symlink whose target lies outside) is an
 *   error naming the Containerfile line; so is a missing or excluded source,
 *   with Docker's message.
 * - `hashSources`: a content hash of what a COPY reads, for the cache key:
 *   relative paths, types, permission bits, file contents and link targets;
 *   not owners, not times (Docker's rule), so a checkout elsewhere or a
 *   `touch` does not invalidate the cache.
 * - `walk`: every entry the ignore rules let through.
 *
 * The context is assumed not to change during a build: listings and file
 * hashes are cached in the BuildContext object.
 */
import { createHash } from 'node:crypto';
import type { FileHashIndex } from './hash-index.js';
import { createReadStream, type Stats } from 'node:fs';
import { lstat, readdir, readFile, readlink, realpath, stat } from 'node:fs/promises';
import { basename, isAbsolute, join, posix, relative, resolve } from 'node:path';
import { BuildfileError } from './containerfile/parser.js';
import { cleanPath, goMatch, hasGlobMeta, IgnoreRules, type MatchInfo } from './ignore.js';
import { HutchError, messageOf } from '../errors.js';
import { isMissing } from '../fs/missing.js';
import type { ContextEntry, CopyEntry, CopySource, EntryType, SourceRef } from './sources.js';

export interface OpenOptions {
  /** The Containerfile's path, for `<Containerfile>.dockerignore` (BuildKit's per-file ignore). */
  containerfile?: string;
  /** An explicit ignore file (podman's --ignorefile); wins over the ones in the context. */
  ignoreFile?: string;
}

export interface ResolveOptions {
  /** The Containerfile's name, for errors. */
  file: string;
  /** COPY or ADD, for messages. */
  instruction?: 'COPY' | 'ADD';
  /** --exclude patterns: matched against paths below each source (ignore-file syntax). */
  excludes?: string[];
  /** Wildcards in sources (COPY and ADD: yes). */
  wildcards?: boolean;
}

/** A context that cannot be used at all (missing directory, unreadable ignore file, bad pattern). */
export class BuildContextError extends HutchError {
  constructor(message: string, options: { hint?: string; cause?: unknown } = {}) {
    super(message, options);
    this.name = 'BuildContextError';
  }
}

function typeOf(s: Stats): EntryType {
  if (s.isFile()) return 'file';
  if (s.isDirectory()) return 'directory';
  if (s.isSymbolicLink()) return 'symlink';
  if (s.isFIFO()) return 'fifo';
  if (s.isSocket()) return 'socket';
  if (s.isCharacterDevice()) return 'char';
  return 'block';
}

function join2(dir: string, name: string): string {
  return dir === '.' ? name : `${dir}/${name}`;
}

function compareNames(a: string, b: string): number {
  // Byte order of UTF-8, as Go sorts: stable across locales.
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

export class BuildContext {
  private readonly listings = new Map<string, Promise<ContextEntry[]>>();
  private readonly hashes = new Map<string, Promise<string>>();
  private hashIndex: FileHashIndex | undefined;

  private constructor(
    /** The context directory, symlinks resolved. */
    readonly root: string,
    readonly ignore: IgnoreRules,
    /** The ignore file in use, if any. */
    readonly ignoreFile: string | undefined,
    /**
     * A root file system (another stage, an image, an unpacked archive)
     * rather than a context: absolute symlinks lead to its own root and `..`
     * stops there, as inside a container, instead of being errors.
     */
    readonly chroot = false,
  ) {}

  /** A root file system to copy from (COPY --from): no ignore rules, symlinks resolved inside it. */
  static async openTree(dir: string): Promise<BuildContext> {
    return new BuildContext(await realpath(dir), IgnoreRules.none(), undefined, true);
  }

  /**
   * Opens a context directory and reads its ignore file: the explicit one,
   * else `.containerignore`, else `<Containerfile>.dockerignore` when the
   * Containerfile is inside the context, else `.dockerignore`.
   */
  static async open(dir: string, options: OpenOptions = {}): Promise<BuildContext> {
    let root: string;
    try {
      root = await realpath(dir);
      if (!(await stat(root)).isDirectory()) throw new BuildContextError(`build context ${dir} is not a directory`);
    } catch (error) {
      if (error instanceof BuildContextError) throw error;
      throw new BuildContextError(`build context ${dir}: ${(error as Error).message}`, { cause: error });
    }
    const candidates: string[] = [];
    if (options.ignoreFile !== undefined) candidates.push(resolve(options.ignoreFile));
    else {
      candidates.push(join(root, '.containerignore'));
      if (options.containerfile !== undefined) candidates.push(`${resolve(options.containerfile)}.dockerignore`);
      candidates.push(join(root, '.dockerignore'));
    }
    for (const candidate of candidates) {
      let text: string;
      try {
        text = await readFile(candidate, 'utf8');
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if ((code === 'ENOENT' || code === 'ENOTDIR') && options.ignoreFile === undefined) continue;
        throw new BuildContextError(`read ignore file ${candidate}: ${(error as Error).message}`, { cause: error });
      }
      try {
        return new BuildContext(root, IgnoreRules.parse(text), candidate);
      } catch (error) {
        throw new BuildContextError(`${candidate}: ${(error as Error).message}`, { cause: error });
      }
    }
    return new BuildContext(root, IgnoreRules.none(), undefined);
  }

  /** The ignore file's name for messages: `.dockerignore` (Docker's wording) or the one in use. */
  private ignoreName(): string {
    return this.ignoreFile === undefined ? '.dockerignore' : basename(this.ignoreFile);
  }

  private async entry(path: string): Promise<ContextEntry> {
    const absolute = path === '.' ? this.root : join(this.root, path);
    const s = await lstat(absolute);
    const type = typeOf(s);
    return {
      path,
      absolute,
      type,
      mode: s.mode & 0o7777,
      size: type === 'file' ? s.size : 0,
      uid: s.uid,
      gid: s.gid,
      mtimeMs: s.mtimeMs,
      ctimeMs: s.ctimeMs,
      ...(type === 'symlink' ? { linkTarget: await readlink(absolute) } : {}),
      inode: `${s.dev}:${s.ino}`,
      nlink: s.nlink,
    };
  }

  /** A directory's entries (all of them, ignore rules not applied), sorted. */
  private list(dir: string): Promise<ContextEntry[]> {
    let listing = this.listings.get(dir);
    if (listing === undefined) {
      listing = (async () => {
        const names = (await readdir(dir === '.' ? this.root : join(this.root, dir))).sort(compareNames);
        return Promise.all(names.map((name) => this.entry(join2(dir, name))));
      })();
      this.listings.set(dir, listing);
    }
    return listing;
  }

  /** Whether the ignore rules exclude a context path. */
  excluded(path: string): boolean {
    return this.ignore.excludes(path);
  }

  /**
   * The entries below `dir` that the ignore rules keep (and `extra`
   * patterns, relative to `dir`, do not exclude), depth first in name order.
   * An excluded directory is entered when an exception names a path below
   * it (IgnoreRules.entersExcluded, buildah's rule), and appears when
   * something below it is re-included.
   */
  async walk(dir = '.', extra?: IgnoreRules): Promise<ContextEntry[]> {
    const start = cleanPath(dir);
    const parts = start === '.' ? [] : start.split('/');
    let info: MatchInfo = this.ignore.match('.').info;
    for (let i = 1; i <= parts.length; i++) info = this.ignore.match(parts.slice(0, i).join('/'), info).info;
    const out: ContextEntry[] = [];
    await this.walkInto(start, info, { rules: extra, base: start, info: extra?.match('.').info }, out);
    return out;
  }

  private async walkInto(
    dir: string,
    info: MatchInfo,
    extra: { rules: IgnoreRules | undefined; base: string; info: MatchInfo | undefined },
    out: ContextEntry[],
  ): Promise<boolean> {
    let any = false;
    for (const entry of await this.list(dir)) {
      const { excluded, info: childInfo } = this.ignore.match(entry.path, info);
      const rel = extra.base === '.' ? entry.path : posix.relative(extra.base, entry.path);
      const byExtra = extra.rules?.match(rel, extra.info);
      const dropped = excluded || byExtra?.excluded === true;
      if (entry.type === 'directory') {
        const skip =
          (excluded && !this.ignore.entersExcluded(entry.path)) ||
          (byExtra?.excluded === true && (extra.rules as IgnoreRules).canSkipBelow(rel));
        if (dropped && skip) continue;
        const at = out.length;
        const inner = await this.walkInto(entry.path, childInfo, { ...extra, info: byExtra?.info }, out);
        if (!dropped || inner) {
          out.splice(at, 0, entry);
          any = true;
        }
        continue;
      }
      if (dropped) continue;
      out.push(entry);
      any = true;
    }
    return any;
  }

  /**
   * Resolves a path inside the context, following symlinks in every element
   * (the last too). Returns the real context-relative path, or throws
   * 'outside' when a symlink leads out, 'missing' when nothing is there.
   */
  private async follow(path: string): Promise<string> {
    const parts = path === '.' ? [] : path.split('/');
    let current: string[] = [];
    let hops = 0;
    while (parts.length > 0) {
      const part = parts.shift() as string;
      if (part === '.' || part === '') continue;
      if (part === '..') {
        if (current.length === 0 && this.chroot) continue;
        if (current.length === 0) throw new Outside();
        current.pop();
        continue;
      }
      const candidate = [...current, part].join('/');
      let s: Stats;
      try {
        s = await lstat(join(this.root, candidate));
      } catch (error) {
        if (isMissing(error)) throw new Missing();
        throw error;
      }
      if (!s.isSymbolicLink()) {
        current.push(part);
        continue;
      }
      if (++hops > 255) throw new Missing();
      const target = await readlink(join(this.root, candidate));
      let next: string[];
      if (isAbsolute(target) && this.chroot) {
        next = target.split('/').filter((p) => p !== '');
        current = [];
      } else if (isAbsolute(target)) {
        const rel = relative(this.root, target);
        if (rel === '..' || rel.startsWith('../') || isAbsolute(rel)) throw new Outside();
        next = rel === '' ? [] : rel.split('/');
        current = [];
      } else next = target.split('/');
      parts.unshift(...next);
    }
    return current.length === 0 ? '.' : current.join('/');
  }

  /**
   * What each source of a COPY/ADD reads, in source order then path order.
   * Throws BuildfileError (file:line:col of the source) for a source outside
   * the context, a missing or excluded one, or a wildcard with no match.
   */
  async resolveSources(refs: readonly SourceRef[], options: ResolveOptions): Promise<CopySource[]> {
    const instruction = options.instruction ?? 'COPY';
    const excludes = options.excludes !== undefined && options.excludes.length > 0 ? options.excludes : undefined;
    let extra: IgnoreRules | undefined;
    if (excludes !== undefined) {
      try {
        extra = IgnoreRules.parse(excludes.join('\n'));
      } catch (error) {
        const at = refs[0]?.position ?? { line: 1, column: 1 };
        throw new BuildfileError(options.file, at, `--exclude: ${(error as Error).message}`);
      }
    }
    const out: CopySource[] = [];
    for (const ref of refs) {
      const fail = (reason: string): never => {
        throw new BuildfileError(options.file, ref.position, reason);
      };
      const cleaned = cleanPath(ref.source.startsWith('/') ? `.${ref.source}` : ref.source);
      if (cleaned === '..' || cleaned.startsWith('../')) {
        fail(`${instruction} ${ref.source}: forbidden path outside the build context`);
      }
      const matches = options.wildcards !== false && hasGlobMeta(cleaned) ? await this.glob(cleaned, fail) : [cleaned];
      if (matches.length === 0) {
        fail(`${instruction} failed: no source files were specified (nothing matches ${ref.source})`);
      }
      for (const match of matches) {
        out.push(await this.source(ref.source, match, instruction, extra, fail));
      }
    }
    return out;
  }

  private notFound(instruction: string, source: string): string {
    return `${instruction} failed: file not found in build context or excluded by ${this.ignoreName()}: stat ${source}: file does not exist`;
  }

  private async source(
    source: string,
    path: string,
    instruction: string,
    extra: IgnoreRules | undefined,
    fail: (reason: string) => never,
  ): Promise<CopySource> {
    let real: string;
    try {
      real = await this.follow(path);
    } catch (error) {
      if (error instanceof Outside) {
        fail(`${instruction} ${source}: forbidden path outside the build context (a symlink on the way leads out)`);
      }
      if (error instanceof Missing) fail(this.notFound(instruction, source));
      // A part of the context that cannot be read (EACCES): the step's line, then why.
      if (typeof (error as NodeJS.ErrnoException).code === 'string')
        fail(`${instruction} ${source}: ${messageOf(error)}`);
      throw error;
    }
    const excluded = (path !== '.' && this.excluded(path)) || (real !== '.' && this.excluded(real));
    const top = await this.entry(real);
    const name = path === '.' ? basename(this.root) : posix.basename(path);
    const base: CopyEntry = { ...top, rel: '.' };
    if (top.type !== 'directory') {
      if (excluded || (extra !== undefined && extra.excludes(name))) fail(this.notFound(instruction, source));
      return { source, path, name, type: top.type, entries: [base] };
    }
    const inner = await this.walk(real, extra);
    // An excluded directory is there only for what exceptions re-include below it.
    if (excluded && inner.length === 0) fail(this.notFound(instruction, source));
    const entries: CopyEntry[] = [base];
    for (const e of inner) entries.push({ ...e, rel: real === '.' ? e.path : posix.relative(real, e.path) });
    return { source, path, name, type: 'directory', entries };
  }

  /**
   * Context paths matching a wildcard pattern, element by element, sorted;
   * excluded ones left out. A symlink that leads out is an error where the
   * pattern names it literally, and no match where a wildcard found it.
   */
  private async glob(pattern: string, fail: (reason: string) => never): Promise<string[]> {
    const parts = pattern.split('/');
    let bases: { path: string; wild: boolean }[] = [{ path: '.', wild: false }];
    for (const [i, part] of parts.entries()) {
      const last = i === parts.length - 1;
      const next: { path: string; wild: boolean }[] = [];
      for (const base of bases) {
        let real: string;
        try {
          real = await this.follow(base.path);
        } catch (error) {
          if (error instanceof Missing || (error instanceof Outside && base.wild)) continue;
          if (error instanceof Outside) fail(`${base.path}: forbidden path outside the build context`);
          throw error;
        }
        const dir = await this.entry(real).catch(() => undefined);
        if (dir === undefined || dir.type !== 'directory') continue;
        if (!hasGlobMeta(part)) {
          try {
            await lstat(join(this.root, join2(real, part)));
            next.push({ path: join2(base.path, part), wild: base.wild });
          } catch (error) {
            // no such entry: this branch matches nothing
            if (!isMissing(error)) throw error;
          }
          continue;
        }
        for (const entry of await this.list(real)) {
          const name = posix.basename(entry.path);
          let ok: boolean;
          try {
            ok = goMatch(part, name);
          } catch (error) {
            fail((error as Error).message);
          }
          if (!ok) continue;
          const candidate = join2(base.path, name);
          if (last && this.excluded(candidate)) {
            if (entry.type !== 'directory' || this.ignore.canSkipBelow(candidate)) continue;
            if ((await this.walk(candidate)).length === 0) continue;
          }
          next.push({ path: candidate, wild: true });
        }
      }
      bases = next;
    }
    const out: string[] = [];
    for (const base of bases) {
      // A wildcard match that is a symlink leading out is skipped, not an error.
      if (base.wild) {
        try {
          await this.follow(base.path);
        } catch (error) {
          if (error instanceof Outside || error instanceof Missing) continue;
          throw error;
        }
      }
      out.push(base.path);
    }
    return out.sort(compareNames);
  }

  /** The hashes of earlier builds of this context: a file with the same times is not read again. */
  useHashIndex(index: FileHashIndex): void {
    this.hashIndex = index;
  }

  /** sha256 of a context file's content, cached for the build (and across builds with a hash index). */
  fileHash(entry: ContextEntry): Promise<string> {
    const key = `${entry.absolute}\0${entry.inode}\0${entry.size}\0${entry.mtimeMs}`;
    let hash = this.hashes.get(key);
    if (hash === undefined) {
      const index = this.hashIndex;
      const known = index?.get(entry);
      hash =
        known !== undefined
          ? Promise.resolve(known)
          : new Promise<string>((resolvePromise, reject) => {
              const h = createHash('sha256');
              const started = Date.now();
              createReadStream(entry.absolute)
                .on('data', (chunk) => h.update(chunk))
                .on('error', reject)
                .on('end', () => {
                  const hex = h.digest('hex');
                  index?.set(entry, hex, started);
                  resolvePromise(hex);
                });
            });
      this.hashes.set(key, hash);
    }
    return hash;
  }

  /**
   * The content hash of what the sources read, `sha256:…`: for each source
   * its name and type, then each entry's relative path, type, permission
   * bits, and content hash or link target. Owners and times do not count.
   */
  async hashSources(sources: readonly CopySource[]): Promise<string> {
    const h = createHash('sha256');
    for (const source of sources) {
      h.update(`source\0${source.name}\0${source.type}\n`);
      for (const entry of source.entries) {
        let content = '';
        if (entry.type === 'file') content = await this.fileHash(entry);
        else if (entry.type === 'symlink') content = entry.linkTarget ?? '';
        h.update(`${entry.rel}\0${entry.type}\0${entry.mode.toString(8)}\0${content}\n`);
      }
    }
    return `sha256:${h.digest('hex')}`;
  }
}

class Outside extends Error {}
class Missing extends Error {}
