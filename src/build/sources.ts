/**
 * What COPY and ADD read and where it lands: the entries of a context (or of
 * another stage's tree) and what each source matched (BuildContext in
 * context.ts finds them), a source paired with its position for errors, and
 * Docker's destination rules (a file lands inside a destination ending in
 * `/`; several sources need one).
 */
import { posix } from 'node:path';
import type { Position } from './containerfile/ast.js';
import type { AddInstruction, CopyInstruction } from './containerfile/instructions.js';
import { BuildfileError } from './containerfile/parser.js';

export type EntryType = 'file' | 'directory' | 'symlink' | 'fifo' | 'socket' | 'char' | 'block';

/** One file system object of the context. */
export interface ContextEntry {
  /** Relative to the context root, `/`-separated; `.` is the root. */
  path: string;
  /** Where it is on disk. */
  absolute: string;
  type: EntryType;
  /** Permission bits with setuid, setgid and sticky (07777). */
  mode: number;
  size: number;
  uid: number;
  gid: number;
  mtimeMs: number;
  /** When the inode last changed: with the mtime, what lets a rebuild trust a file's recorded hash. */
  ctimeMs?: number;
  /** A symlink's target, as stored. */
  linkTarget?: string;
  /** `dev:ino`, and how many names it has: lets a copy keep hard links. */
  inode: string;
  nlink: number;
}

/** An entry as it lands under the destination. */
export interface CopyEntry extends ContextEntry {
  /**
   * The path below the destination: `.` for a file source itself (it takes
   * the destination name, or the source's name inside a destination
   * directory) and for a directory source's own directory; `a/b` for what a
   * directory source contains.
   */
  rel: string;
}

/** A COPY/ADD source as written and where, for errors. */
export interface SourceRef {
  source: string;
  position: Position;
}

/** One thing a source matched. */
export interface CopySource {
  /** The source as written (expanded). */
  source: string;
  /** The matched path, relative to the context. */
  path: string;
  /** The name a file takes inside a destination directory (the matched name, not a link target's). */
  name: string;
  /** file or directory (a named symlink is followed), or a special file. */
  type: EntryType;
  /** What to copy, in path order; a directory's own entry first (rel `.`). */
  entries: CopyEntry[];
}

/** Pairs a COPY/ADD's parsed sources (positions) with their expanded values. */
export function sourceRefs(
  instruction: Pick<CopyInstruction | AddInstruction, 'sources' | 'node'>,
  expanded: readonly string[],
): SourceRef[] {
  return expanded.map((source, i) => ({
    source,
    position: instruction.sources[i]?.position ?? instruction.node.position,
  }));
}

/**
 * Where a file source lands: inside `dest` when dest ends with `/` (or is
 * known to be a directory, or there are several sources), else at `dest`
 * itself. Paths are cleaned; relative ones join `workdir`.
 */
export function destinationFor(
  source: Pick<CopySource, 'name' | 'type'>,
  dest: string,
  options: { workdir?: string; destIsDir?: boolean; multiple?: boolean } = {},
): string {
  const base = posix.resolve('/', options.workdir ?? '/', dest);
  const intoDir = dest.endsWith('/') || dest === '.' || options.destIsDir === true || options.multiple === true;
  if (source.type === 'directory') return base;
  return intoDir ? posix.join(base, source.name) : base;
}

/** Docker's rule: several sources (or a wildcard) need a destination directory ending in `/`. */
export function checkDestination(
  file: string,
  instruction: 'COPY' | 'ADD',
  sources: readonly CopySource[],
  dest: { text: string; position: Position },
  options: { destIsDir?: boolean; inlineCount?: number } = {},
): void {
  const count = sources.length + (options.inlineCount ?? 0);
  if (count > 1 && !dest.text.endsWith('/') && options.destIsDir !== true) {
    throw new BuildfileError(
      file,
      dest.position,
      `When using ${instruction} with more than one source file, the destination must be a directory and end with a /`,
    );
  }
}
