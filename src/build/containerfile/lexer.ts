/**
 * The lexical layer of the Containerfile parser: physical lines, parser
 * directives, line continuations, the split of an instruction line into
 * keyword, flags and the rest, and the word shapes instructions use (JSON
 * arrays, whitespace-separated words, quoted `name=value` words, heredoc
 * markers). The rules are BuildKit's (frontend/dockerfile/parser); every
 * piece keeps the offset it came from so errors can name a column.
 */
import type { Directive, Position } from './ast.js';
import { expand, type EscapeChar } from './expand.js';

/** A line of the source with its number (1-based); `raw` keeps the newline. */
export interface PhysicalLine {
  number: number;
  text: string;
  raw: string;
}

/** Splits source into lines, keeping each line's newline in `raw` (heredoc bodies need it). */
export function splitLines(source: string): PhysicalLine[] {
  const out: PhysicalLine[] = [];
  let start = 0;
  let number = 1;
  const text = source.startsWith('\uFEFF') ? source.slice(1) : source;
  while (start < text.length) {
    const nl = text.indexOf('\n', start);
    const end = nl < 0 ? text.length : nl + 1;
    const raw = text.slice(start, end);
    out.push({ number, raw, text: trimNewline(raw) });
    number++;
    start = end;
  }
  return out;
}

/** Go's bytes.TrimRight(s, "\r\n"). */
export function trimNewline(s: string): string {
  return s.replace(/[\r\n]+$/, '');
}

/** Go's unicode.IsSpace as a character class body. */
const SPACE = '\\t\\n\\v\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const LEADING_SPACE = new RegExp(`^[${SPACE}]+`, 'u');

export function trimLeadingSpace(s: string): string {
  return s.replace(LEADING_SPACE, '');
}

export function isSpaceChar(ch: string): boolean {
  return new RegExp(`^[${SPACE}]$`, 'u').test(ch);
}

/** A comment line: `#` is its first non-space character. */
export function isCommentLine(text: string): boolean {
  return trimLeadingSpace(trimNewline(text)).startsWith('#');
}

/** Code points between two UTF-16 offsets of s (columns count code points). */
export function codePointsBetween(s: string, from: number, to: number): number {
  let n = 0;
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (c < 0xdc00 || c > 0xdfff) n++;
  }
  return n;
}

// ---------------------------------------------------------------------------
// Directives.

const DIRECTIVE = /^([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$/;
const KNOWN_DIRECTIVES = new Set(['syntax', 'escape', 'check']);

export class DirectiveError extends Error {}

/**
 * Parser directives: `# name=value` lines at the very top. The first line that
 * is not one (an instruction, an empty line, another comment, an unknown
 * directive) ends them; later ones are plain comments. A directive may be
 * given once.
 */
export class DirectiveScanner {
  done = false;
  readonly directives: Directive[] = [];

  /** Looks at one line (already left-trimmed for the first line of an instruction). */
  feed(text: string, line: number, column: number): Directive | undefined {
    if (this.done) return undefined;
    if (!text.startsWith('#')) {
      this.done = true;
      return undefined;
    }
    const match = DIRECTIVE.exec(trimLeadingSpace(text.slice(1)));
    if (match === null) {
      this.done = true;
      return undefined;
    }
    const name = (match[1] as string).toLowerCase();
    if (!KNOWN_DIRECTIVES.has(name)) {
      this.done = true;
      return undefined;
    }
    if (this.directives.some((d) => d.name === name)) {
      throw new DirectiveError(`only one ${name} parser directive can be used`);
    }
    const directive: Directive = {
      name: name as Directive['name'],
      value: match[2] as string,
      position: { line, column },
    };
    this.directives.push(directive);
    return directive;
  }
}

/** Checks an `# escape=` value. */
export function escapeChar(value: string): EscapeChar {
  if (value !== '`' && value !== '\\')
    throw new DirectiveError(`invalid escape token '${value}' does not match \` or \\`);
  return value;
}

// ---------------------------------------------------------------------------
// Continuations.

/**
 * Strips a trailing continuation (the escape character, then only blanks),
 * unless the escape character is itself escaped. Returns the line and
 * whether it continues.
 */
export function trimContinuation(line: string, escape: EscapeChar): { text: string; continues: boolean } {
  const e = escape === '\\' ? '\\\\' : '`';
  const re = new RegExp(`([^${e}])${e}[ \\t]*$|^${e}[ \\t]*$`);
  const m = re.exec(line);
  if (m === null) return { text: line, continues: false };
  return { text: line.slice(0, m.index) + (m[1] ?? ''), continues: true };
}

// ---------------------------------------------------------------------------
// The instruction line.

/** A flag as written: `--name=value` or `--name`, quotes already removed. */
export interface RawFlag {
  name: string;
  value: string | undefined;
  /** Offset of `--` in the line. */
  offset: number;
  /** Offset of the value (after `=`), or of `--` when bare. */
  valueOffset: number;
  /** The whole word as written, for messages. */
  word: string;
}

export interface SplitLine {
  keyword: string;
  keywordOffset: number;
  flags: RawFlag[];
  rest: string;
  restOffset: number;
}

const WS = /[\t\v\f\r ]/;

/**
 * Splits a logical line into keyword, leading `--flags` and the rest
 * (BuildKit's splitCommand and extractBuilderFlags: flags are words starting
 * with `--`, may be quoted, `\` escapes inside them, a bare `--` ends them).
 */
export function splitCommand(line: string): SplitLine {
  let i = 0;
  while (i < line.length && (WS.test(line[i] as string) || line[i] === '\n')) i++;
  const keywordOffset = i;
  while (i < line.length && !WS.test(line[i] as string)) i++;
  const keyword = line.slice(keywordOffset, i);
  while (i < line.length && WS.test(line[i] as string)) i++;
  const flags: RawFlag[] = [];
  // Flags: whitespace-separated words that start with "--".
  for (;;) {
    while (i < line.length && isSpaceChar(line[i] as string)) i++;
    if (i >= line.length || !line.startsWith('--', i)) break;
    const start = i;
    let word = '';
    let eqAt = -1;
    let quote = '';
    let blankOK = false;
    for (; i < line.length; i++) {
      const ch = line[i] as string;
      if (quote !== '') {
        if (ch === quote) {
          quote = '';
          continue;
        }
        if (ch === '\\') {
          if (i + 1 === line.length) continue;
          i++;
        }
        word += line[i];
        continue;
      }
      if (isSpaceChar(ch)) break;
      if (ch === "'" || ch === '"') {
        quote = ch;
        blankOK = true;
        continue;
      }
      if (ch === '\\') {
        if (i + 1 === line.length) continue;
        i++;
      }
      if (line[i] === '=' && eqAt < 0) eqAt = i;
      word += line[i];
    }
    if (word === '--') {
      // `--` alone ends the flags; what follows is the rest.
      while (i < line.length && isSpaceChar(line[i] as string)) i++;
      break;
    }
    if (!blankOK && word.length === 0) break;
    const body = word.slice(2);
    const eq = body.indexOf('=');
    flags.push({
      name: eq < 0 ? body : body.slice(0, eq),
      value: eq < 0 ? undefined : body.slice(eq + 1),
      offset: start,
      valueOffset: eqAt < 0 ? start : eqAt + 1,
      word: line.slice(start, i),
    });
  }
  const restRaw = line.slice(i);
  const lead = restRaw.length - trimLeadingSpace(restRaw).length;
  return { keyword, keywordOffset, flags, rest: restRaw.trim(), restOffset: i + lead };
}

// ---------------------------------------------------------------------------
// Argument shapes.

/** A word and the offset (in the text it came from) of its first character. */
export interface Word {
  text: string;
  offset: number;
}

/** Words separated by `[\t\v\f\r ]+` (FROM, EXPOSE, COPY/ADD/VOLUME in shell form). */
export function splitWhitespace(text: string, base = 0): Word[] {
  const out: Word[] = [];
  const re = /[^\t\v\f\r ]+/g;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) out.push({ text: m[0], offset: base + m.index });
  return out;
}

/**
 * BuildKit's parseWords (ENV, LABEL, ARG): words split at unquoted white
 * space; quotes and escapes are kept (expansion removes them later).
 */
export function parseQuotedWords(text: string, escape: EscapeChar, base = 0): Word[] {
  const out: Word[] = [];
  const chars = Array.from(text);
  let offsets = 0;
  const at: number[] = [];
  for (const ch of chars) {
    at.push(offsets);
    offsets += ch.length;
  }
  let phase: 'spaces' | 'word' | 'quote' = 'spaces';
  let quote = '';
  let blankOK = false;
  let word = '';
  let wordStart = 0;
  for (let pos = 0; pos <= chars.length; pos++) {
    const ch = chars[pos] ?? '';
    if (phase === 'spaces') {
      if (pos === chars.length) break;
      if (isSpaceChar(ch)) continue;
      phase = 'word';
      wordStart = at[pos] as number;
    }
    if (pos === chars.length) {
      if (blankOK || word.length > 0) out.push({ text: word, offset: base + wordStart });
      break;
    }
    if (phase === 'word') {
      if (isSpaceChar(ch)) {
        phase = 'spaces';
        if (blankOK || word.length > 0) out.push({ text: word, offset: base + wordStart });
        word = '';
        blankOK = false;
        continue;
      }
      if (ch === "'" || ch === '"') {
        quote = ch;
        blankOK = true;
        phase = 'quote';
      }
      if (ch === escape) {
        if (pos + 1 === chars.length) continue;
        word += ch;
        pos++;
        word += chars[pos] as string;
        continue;
      }
      word += ch;
      continue;
    }
    // In quotes: the escape character works except between single quotes.
    if (ch === quote) phase = 'word';
    if (ch === escape && quote !== "'") {
      if (pos + 1 === chars.length) {
        phase = 'word';
        continue;
      }
      word += ch;
      pos++;
      word += chars[pos] as string;
      continue;
    }
    word += ch;
  }
  return out;
}

export type JsonArgs =
  { kind: 'json'; values: Word[] } | { kind: 'not-json' } | { kind: 'not-strings'; offset: number };

/**
 * BuildKit's parseJSON: the text is a JSON array of strings (exec form), or
 * not JSON at all (shell form), or a JSON array with something other than a
 * string (an error, not shell form).
 */
export function parseJsonArray(text: string, base = 0): JsonArgs {
  const lead = text.length - trimLeadingSpace(text).length;
  const trimmed = text.slice(lead);
  if (!trimmed.startsWith('[')) return { kind: 'not-json' };
  let parsed: unknown;
  try {
    parsed = JSON.parse(trimmed);
  } catch {
    return { kind: 'not-json' };
  }
  if (!Array.isArray(parsed)) return { kind: 'not-json' };
  const offsets = jsonElementOffsets(trimmed);
  const values: Word[] = [];
  for (let i = 0; i < parsed.length; i++) {
    const value: unknown = parsed[i];
    const offset = base + lead + (offsets[i] ?? 0);
    if (typeof value !== 'string') return { kind: 'not-strings', offset };
    values.push({ text: value, offset });
  }
  return { kind: 'json', values };
}

/** Offsets of the elements of a valid top-level JSON array. */
function jsonElementOffsets(text: string): number[] {
  const out: number[] = [];
  let depth = 0;
  let inString = false;
  let expectValue = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i] as string;
    if (inString) {
      if (ch === '\\') i++;
      else if (ch === '"') inString = false;
      continue;
    }
    if (ch === '"') inString = true;
    if (depth === 1 && expectValue && !/\s/.test(ch) && ch !== ']') {
      out.push(i);
      expectValue = false;
    }
    if (ch === '[' || ch === '{') {
      depth++;
      if (depth === 1) expectValue = true;
    } else if (ch === ']' || ch === '}') depth--;
    else if (ch === ',' && depth === 1) expectValue = true;
  }
  return out;
}

// ---------------------------------------------------------------------------
// Heredocs.

export interface HeredocMarker {
  name: string;
  expand: boolean;
  chomp: boolean;
  fd: number | undefined;
}

const HEREDOC = /^(\d*)<<(-?)([^<]*)$/;

/**
 * BuildKit's ParseHeredoc: a word `[fd]<<[-]NAME` where NAME is one shell
 * word; quoting any part of it turns expansion off. undefined when the word
 * is not a heredoc marker.
 */
export function parseHeredocWord(word: string): HeredocMarker | undefined {
  const m = HEREDOC.exec(word);
  if (m === null) return undefined;
  const rest = m[3] as string;
  if (rest.length === 0) return undefined;
  const plain = expand(rest, undefined, { skipUnset: true }).words;
  if (plain.length !== 1) return undefined;
  const raw = expand(rest, undefined, { skipUnset: true, rawQuotes: true }).words;
  const quotes = (s: string) => (s.match(/['"]/g) ?? []).length;
  const name = plain[0] as string;
  return {
    name,
    expand: quotes(name) === quotes(raw[0] ?? ''),
    chomp: m[2] === '-',
    fd: m[1] === '' ? undefined : Number(m[1]),
  };
}

/**
 * The heredoc markers of an instruction line, in order, with the offset of
 * each marker word. The line is split as a shell would (quotes and escapes
 * kept), so `'<<EOF'` is not a marker.
 */
export function findHeredocs(line: string): (HeredocMarker & { offset: number })[] {
  if (!line.includes('<<')) return [];
  let words: string[];
  try {
    words = expand(line, undefined, { rawQuotes: true, rawEscapes: true, skipUnset: true }).words;
  } catch {
    return [];
  }
  const out: (HeredocMarker & { offset: number })[] = [];
  let from = 0;
  for (const word of words) {
    const at = line.indexOf(word, from);
    if (at >= 0) from = at + word.length;
    const marker = parseHeredocWord(word);
    if (marker !== undefined) out.push({ ...marker, offset: Math.max(at, 0) });
  }
  return out;
}

/** `<<-` bodies: leading tabs removed from every line. */
export function chompHeredoc(content: string): string {
  return content.replace(/^\t+/gm, '');
}

/** Maps offsets of a logical line back to physical positions. */
export interface Segment {
  /** Offset in the logical line where this piece starts. */
  offset: number;
  line: number;
  column: number;
}

export function positionIn(text: string, segments: readonly Segment[], offset: number): Position {
  let seg = segments[0] as Segment;
  for (const s of segments) {
    if (s.offset <= offset) seg = s;
    else break;
  }
  return { line: seg.line, column: seg.column + codePointsBetween(text, seg.offset, Math.min(offset, text.length)) };
}
