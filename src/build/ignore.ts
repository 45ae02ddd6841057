/**
 * `.containerignore` / `.dockerignore` rules, as Docker and BuildKit apply
 * them (moby/patternmatcher and its ignorefile reader):
 *
 * - one pattern a line; a line whose first character is `#` is a comment
 *   (only in the first column: `  # x` is a pattern); blank lines are skipped;
 * - surrounding white space trimmed, then `filepath.Clean` (so `./a`, `a/`,
 *   `a//b`, `a/../b` are `a`, `a`, `a/b`, `b`), a leading `/` dropped;
 * - `!` makes an exception (re-includes); later lines win;
 * - Go `filepath.Match` syntax (`*` and `?` never match `/`, `[a-z]`, `[^a]`,
 *   `\` escapes) plus `**`, which matches any number of directories (zero
 *   too); a leading `**` matches any suffix, a trailing one any prefix;
 * - a pattern that matches a directory excludes everything below it, unless a
 *   later exception re-includes it (parent matching, as
 *   `MatchesOrParentMatches` and `MatchesUsingParentResults` do).
 *
 * Written here rather than taken from `@balena/dockerignore` (a port of Docker
 * 19.03's matcher), which gets the parent matching right but builds its
 * regular expression escaping only `.` and `$` (so `a+b.txt` or
 * `file(1).txt` match the wrong names), matches case-insensitively by
 * default, accepts a lone `!`, throws on a bad pattern only when first used,
 * and offers no walk (parent results, skipping excluded directories);
 * docs/containerfile.md has the comparison.
 */

/** Go's `filepath.ErrBadPattern`, with the pattern and where it came from. */
export class BadPatternError extends Error {
  constructor(
    readonly pattern: string,
    readonly line?: number,
  ) {
    super(`syntax error in pattern ${JSON.stringify(pattern)}${line === undefined ? '' : ` on line ${line}`}`);
    this.name = 'BadPatternError';
  }
}

// ---------------------------------------------------------------------------
// Go's path/filepath.Match, on code points (a Go string is UTF-8, a rune a code point).

class BadPattern extends Error {}

function getEscaped(chunk: string[], at: number): { rune: string; next: number } {
  let i = at;
  if (i >= chunk.length || chunk[i] === '-' || chunk[i] === ']') throw new BadPattern();
  if (chunk[i] === '\\') {
    i++;
    if (i >= chunk.length) throw new BadPattern();
  }
  const rune = chunk[i] as string;
  i++;
  if (i >= chunk.length) throw new BadPattern();
  return { rune, next: i };
}

function runeLE(a: string, b: string): boolean {
  return (a.codePointAt(0) as number) <= (b.codePointAt(0) as number);
}

/** Matches one star-free chunk at the start of s: the rest of s, or undefined. Throws BadPattern. */
function matchChunk(chunk: string[], s: string[], from: number): number | undefined {
  let failed = false;
  let si = from;
  let ci = 0;
  while (ci < chunk.length) {
    if (!failed && si >= s.length) failed = true;
    const c = chunk[ci];
    if (c === '[') {
      let r = '';
      if (!failed) r = s[si++] as string;
      ci++;
      let negated = false;
      if (ci < chunk.length && chunk[ci] === '^') {
        negated = true;
        ci++;
      }
      let match = false;
      let ranges = 0;
      for (;;) {
        if (ci < chunk.length && chunk[ci] === ']' && ranges > 0) {
          ci++;
          break;
        }
        const lo = getEscaped(chunk, ci);
        ci = lo.next;
        let hi = lo.rune;
        if (chunk[ci] === '-') {
          const h = getEscaped(chunk, ci + 1);
          hi = h.rune;
          ci = h.next;
        }
        if (!failed && runeLE(lo.rune, r) && runeLE(r, hi)) match = true;
        ranges++;
      }
      if (match === negated) failed = true;
    } else if (c === '?') {
      if (!failed) {
        if (s[si] === '/') failed = true;
        si++;
      }
      ci++;
    } else {
      if (c === '\\') {
        ci++;
        if (ci >= chunk.length) throw new BadPattern();
      }
      if (!failed) {
        if (chunk[ci] !== s[si]) failed = true;
        si++;
      }
      ci++;
    }
  }
  return failed ? undefined : si;
}

/** Splits off the next run of stars and the star-free chunk after it. */
function scanChunk(pattern: string[], at: number): { star: boolean; chunk: string[]; next: number } {
  let i = at;
  let star = false;
  while (i < pattern.length && pattern[i] === '*') {
    i++;
    star = true;
  }
  let inRange = false;
  let j = i;
  scan: for (; j < pattern.length; j++) {
    switch (pattern[j]) {
      case '\\':
        if (j + 1 < pattern.length) j++;
        break;
      case '[':
        inRange = true;
        break;
      case ']':
        inRange = false;
        break;
      case '*':
        if (!inRange) break scan;
        break;
    }
  }
  return { star, chunk: pattern.slice(i, j), next: j };
}

function goMatchRunes(pattern: string[], name: string[]): boolean {
  let p = 0;
  let n = 0;
  pattern: while (p < pattern.length) {
    const { star, chunk, next } = scanChunk(pattern, p);
    p = next;
    if (star && chunk.length === 0) return !name.slice(n).includes('/');
    const t = matchChunk(chunk, name, n);
    if (t !== undefined && (t === name.length || p < pattern.length)) {
      n = t;
      continue;
    }
    if (star) {
      for (let i = n; i < name.length && name[i] !== '/'; i++) {
        const rest = matchChunk(chunk, name, i + 1);
        if (rest !== undefined) {
          if (p >= pattern.length && rest < name.length) continue;
          n = rest;
          continue pattern;
        }
      }
    }
    // No match: still report a malformed remainder of the pattern, as Go does.
    while (p < pattern.length) {
      const more = scanChunk(pattern, p);
      p = more.next;
      matchChunk(more.chunk, [], 0);
    }
    return false;
  }
  return n === name.length;
}

/**
 * Go's `filepath.Match(pattern, name)` on Linux: `*` any run of non-`/`
 * characters, `?` one non-`/` character, `[…]` a class (`^` negates, `\`
 * escapes), `\c` the character c. `**` is two stars, nothing more. Throws
 * BadPatternError for a malformed pattern (as Go returns ErrBadPattern).
 */
export function goMatch(pattern: string, name: string): boolean {
  try {
    return goMatchRunes(Array.from(pattern), Array.from(name));
  } catch (error) {
    if (error instanceof BadPattern) throw new BadPatternError(pattern);
    throw error;
  }
}

/** Whether pattern has Go glob metacharacters (`*?[\`), as filepath's hasMeta. */
export function hasGlobMeta(pattern: string): boolean {
  return /[*?[\\]/.test(pattern);
}

// ---------------------------------------------------------------------------
// filepath.Clean for slash paths.

/** Go's `filepath.Clean` (Lexical: `.`/`..` resolved, duplicate and trailing `/` removed). */
export function cleanPath(path: string): string {
  if (path === '') return '.';
  const rooted = path.startsWith('/');
  const out: string[] = [];
  for (const part of path.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length > 0 && out[out.length - 1] !== '..') out.pop();
      else if (!rooted) out.push('..');
      continue;
    }
    out.push(part);
  }
  const joined = out.join('/');
  if (rooted) return `/${joined}`;
  return joined === '' ? '.' : joined;
}

// ---------------------------------------------------------------------------
// Docker's pattern matcher.

type MatchType = 'exact' | 'prefix' | 'suffix' | 'regexp';

const SYNTAX = new Set(['^', '$', '\\', '.', '*', '+', '?', '(', ')', '[', ']', '{', '}', '|', '/', '-']);
const ESCAPED_BY_DOCKER = new Set(['.', '+', '(', ')', '|', '{', '}', '$']);

function literal(ch: string): string {
  return SYNTAX.has(ch) ? `\\${ch}` : ch;
}

/** One pattern of an ignore file. */
export class IgnorePattern {
  /** The cleaned pattern without its `!`. */
  readonly pattern: string;
  readonly exclusion: boolean;
  /** Line in the ignore file (1-based), when read from one. */
  readonly line: number | undefined;
  /** The pattern split at `/`: how deep it reaches. */
  readonly dirs: readonly string[];
  private readonly type: MatchType;
  private readonly regexp: RegExp | undefined;

  constructor(pattern: string, exclusion: boolean, line?: number) {
    this.pattern = pattern;
    this.exclusion = exclusion;
    this.line = line;
    this.dirs = pattern.split('/');
    // filepath.Match reports a malformed pattern only when it gets that far:
    // Docker calls Match(p, ".") for the syntax check, and so do we.
    try {
      goMatch(pattern, '.');
    } catch {
      throw new BadPatternError(exclusion ? `!${pattern}` : pattern, line);
    }
    const compiled = compile(pattern);
    this.type = compiled.type;
    this.regexp = compiled.regexp;
  }

  /** Whether the slash path (relative to the context, cleaned) matches this pattern itself. */
  matches(path: string): boolean {
    switch (this.type) {
      case 'exact':
        return path === this.pattern;
      case 'prefix':
        return path.startsWith(this.pattern.slice(0, -2));
      case 'suffix': {
        const suffix = this.pattern.slice(2);
        if (path.endsWith(suffix)) return true;
        // `**/foo` matches `foo`
        return suffix.startsWith('/') && path === suffix.slice(1);
      }
      case 'regexp':
        return (this.regexp as RegExp).test(path);
    }
  }

  toString(): string {
    return this.exclusion ? `!${this.pattern}` : this.pattern;
  }
}

/** Docker's translation of a pattern to a match type and, for globs, a regular expression. */
function compile(pattern: string): { type: MatchType; regexp?: RegExp } {
  let source = '^';
  let type: MatchType = 'exact';
  const chars = Array.from(pattern);
  for (let i = 0, k = 0; k < chars.length; i++) {
    const ch = chars[k++] as string;
    if (ch === '*') {
      if (chars[k] === '*') {
        k++;
        if (chars[k] === '/') k++;
        if (k >= chars.length) {
          if (type === 'exact') type = 'prefix';
          else {
            source += '.*';
            type = 'regexp';
          }
        } else {
          source += '(.*/)?';
          type = 'regexp';
        }
        if (i === 0) type = 'suffix';
      } else {
        source += '[^/]*';
        type = 'regexp';
      }
    } else if (ch === '?') {
      source += '[^/]';
      type = 'regexp';
    } else if (ESCAPED_BY_DOCKER.has(ch)) {
      source += `\\${ch}`;
    } else if (ch === '\\') {
      if (k < chars.length) {
        source += literal(chars[k++] as string);
        type = 'regexp';
      } else {
        source += '\\\\';
      }
    } else if (ch === '[' || ch === ']') {
      source += ch;
      type = 'regexp';
    } else {
      source += ch === '/' ? '\\/' : ch;
    }
  }
  if (type !== 'regexp') return { type };
  try {
    return { type, regexp: new RegExp(`${source}$`, 'su') };
  } catch {
    throw new BadPatternError(pattern);
  }
}

/**
 * Per-pattern results for a directory, handed to its children so parent
 * matching costs nothing during a walk (MatchesUsingParentResults).
 */
export type MatchInfo = readonly boolean[];

/** The rules of one ignore file, in order. */
export class IgnoreRules {
  readonly patterns: readonly IgnorePattern[];
  /** Whether any rule is an exception (`!`). */
  readonly hasExceptions: boolean;

  constructor(patterns: readonly IgnorePattern[]) {
    this.patterns = patterns;
    this.hasExceptions = patterns.some((p) => p.exclusion);
  }

  /** No rules: nothing is excluded. */
  static none(): IgnoreRules {
    return new IgnoreRules([]);
  }

  /**
   * Reads an ignore file's text as Docker's ignorefile.ReadAll does. Throws
   * BadPatternError (with the line) for a malformed pattern or a lone `!`.
   */
  static parse(text: string): IgnoreRules {
    const patterns: IgnorePattern[] = [];
    const lines = text.replace(/^\uFEFF/, '').split('\n');
    lines.forEach((raw, index) => {
      const line = index + 1;
      // bufio.ScanLines drops a trailing \r.
      const withoutCR = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
      if (withoutCR.startsWith('#')) return;
      let pattern = withoutCR.trim();
      if (pattern === '') return;
      const exclusion = pattern.startsWith('!');
      if (exclusion) pattern = pattern.slice(1).trim();
      if (pattern.length > 0) {
        pattern = cleanPath(pattern);
        if (pattern.length > 1 && pattern.startsWith('/')) pattern = pattern.slice(1);
      }
      // patternmatcher.New cleans again (`/` stays `/`), and refuses a lone `!`.
      if (exclusion && pattern === '') throw new BadPatternError('!', line);
      patterns.push(new IgnorePattern(cleanPath(pattern), exclusion, line));
    });
    return new IgnoreRules(patterns);
  }

  /**
   * Whether `path` (slash-separated, relative to the context) is excluded,
   * with parent matching: a rule that matches one of its parent directories
   * matches it too. Pass the parent's info during a walk (faster, same answer).
   */
  match(path: string, parent?: MatchInfo): { excluded: boolean; info: MatchInfo } {
    const file = cleanPath(path);
    const info: boolean[] = new Array<boolean>(this.patterns.length).fill(false);
    if (file === '.') return { excluded: false, info };
    let excluded = false;
    const parentDirs = parentsOf(file);
    this.patterns.forEach((pattern, i) => {
      let match = parent !== undefined && parent.length === this.patterns.length ? (parent[i] as boolean) : false;
      if (!match) {
        // An inclusion cannot exclude more once excluded; an exception only matters once excluded.
        if (pattern.exclusion !== excluded) return;
        match = pattern.matches(file);
        if (!match && parent === undefined) match = parentDirs.some((dir) => pattern.matches(dir));
      }
      info[i] = match;
      if (match) excluded = !pattern.exclusion;
    });
    return { excluded, info };
  }

  /**
   * Whether `path` is excluded. "." never is. Computed from the root down
   * with each parent's info, so the answer is the one a walk of the context
   * gives (fsutil walks with MatchesUsingParentResults).
   */
  excludes(path: string): boolean {
    const file = cleanPath(path);
    if (file === '.') return false;
    let info: MatchInfo = this.match('.').info;
    let excluded = false;
    const parts = file.split('/');
    for (let i = 1; i <= parts.length; i++) {
      ({ excluded, info } = this.match(parts.slice(0, i).join('/'), info));
    }
    return excluded;
  }

  /**
   * Whether a COPY of the context enters the excluded directory `dir`, by the
   * rule of buildah's copier (and of Docker's classic builder): only when the
   * text of an exception starts with the directory's path. So `!a/keep*`
   * re-includes below an excluded `a`, while an exception whose first
   * element is a wildcard (`!?/keep*`) does not, though it still re-includes
   * `a/keep` once `a` is entered for another exception.
   * podman's system test of ignore files checks exactly that.
   */
  entersExcluded(dir: string): boolean {
    const path = trimSlashes(cleanPath(dir));
    return this.patterns.some((p) => p.exclusion && `${trimSlashes(p.pattern)}/`.startsWith(path));
  }

  /**
   * Whether a walk may skip everything below the excluded directory `dir`:
   * true unless some exception could re-include a path at or under it.
   */
  canSkipBelow(dir: string): boolean {
    if (!this.hasExceptions) return true;
    const parts = cleanPath(dir).split('/');
    return !this.patterns.some((p) => p.exclusion && couldMatchUnder(p, parts));
  }
}

function trimSlashes(path: string): string {
  return path.replace(/^\/+|\/+$/g, '');
}

/** `a/b/c` → [`a`, `a/b`]. */
function parentsOf(file: string): string[] {
  const parts = file.split('/');
  const out: string[] = [];
  for (let i = 1; i < parts.length; i++) out.push(parts.slice(0, i).join('/'));
  return out;
}

/** Conservative: could the exception `p` match `dir` itself, a parent, or anything below it? */
function couldMatchUnder(p: IgnorePattern, dir: string[]): boolean {
  const n = Math.min(p.dirs.length, dir.length);
  for (let i = 0; i < n; i++) {
    const part = p.dirs[i] as string;
    if (part.includes('**')) return true;
    try {
      if (!goMatch(part, dir[i] as string)) return false;
    } catch {
      return true;
    }
  }
  return true;
}
