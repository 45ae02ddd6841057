/**
 * The part of TOML 1.0 (https://toml.io/en/v1.0.0) that containers'
 * configuration files use: comments, `key = value` with bare, quoted and
 * dotted keys, `[tables]`, `[[arrays of tables]]`, basic and literal strings
 * (one-line and multi-line), booleans, integers, arrays (over several lines,
 * trailing comma allowed) and inline tables. Floats and dates are refused by
 * name rather than misread.
 *
 * The parse is strict where TOML is: a key defined twice, a table defined
 * twice, a value on the line of another, a string that does not close: each is
 * a TomlError naming the line. Where a value was defined is kept (lineOf) so
 * a reader checking types can name the line too.
 */
import { HutchError } from '../../errors.js';

export type TomlValue = string | boolean | number | TomlValue[] | TomlTable;
export interface TomlTable {
  [key: string]: TomlValue;
}

/** A malformed document: `line N: what is wrong`. The reader adds the file. */
export class TomlError extends HutchError {
  constructor(
    readonly line: number,
    readonly reason: string,
  ) {
    super(`line ${line}: ${reason}`);
    this.name = 'TomlError';
  }
}

const lines = new WeakMap<TomlTable, Map<string, number>>();

/** The line a key of a parsed table was defined on (its table header, for a table). */
export function lineOf(table: TomlTable, key: string): number | undefined {
  return lines.get(table)?.get(key);
}

/** How a table came to be, which decides whether a later header may define or extend it. */
type Origin = 'header' | 'implicit' | 'dotted' | 'inline' | 'array-element';

const BARE_KEY = /[A-Za-z0-9_-]/;
const LINE_END_AFTER_BACKSLASH = /[ \t]*\r?\n/y;

class Parser {
  private pos = 0;
  private line = 1;
  private readonly origins = new WeakMap<TomlTable, Origin>();
  /** Arrays made by [[headers]]: only these may be appended to by a header. */
  private readonly tableArrays = new WeakSet<TomlValue[]>();
  private readonly root: TomlTable = {};

  constructor(private readonly text: string) {
    this.origins.set(this.root, 'header');
  }

  parse(): TomlTable {
    let current = this.root;
    for (;;) {
      this.skipBlankAndComments();
      if (this.pos >= this.text.length) return this.root;
      if (this.peek() === '[') {
        current = this.header();
      } else {
        this.keyValue(current);
      }
      this.endOfLine();
    }
  }

  // ------------------------------------------------------------ structure

  private header(): TomlTable {
    const line = this.line;
    const isArray = this.text.startsWith('[[', this.pos);
    this.pos += isArray ? 2 : 1;
    this.skipSpaces();
    const path = this.key();
    this.skipSpaces();
    const close = isArray ? ']]' : ']';
    if (!this.text.startsWith(close, this.pos)) {
      throw this.fail(`expected ${JSON.stringify(close)} to close the header [${isArray ? '[' : ''}${path.join('.')}`);
    }
    this.pos += close.length;
    const parent = this.walk(this.root, path.slice(0, -1), line, 'implicit');
    const last = path[path.length - 1] as string;
    const existing = parent[last];
    const name = path.join('.');
    if (isArray) {
      const table: TomlTable = {};
      this.origins.set(table, 'array-element');
      if (existing === undefined) {
        const array: TomlValue[] = [table];
        this.tableArrays.add(array);
        this.define(parent, last, array, line);
      } else if (Array.isArray(existing) && this.tableArrays.has(existing)) {
        existing.push(table);
      } else {
        throw new TomlError(
          line,
          `key ${JSON.stringify(name)} is already defined as something else than an array of tables`,
        );
      }
      return table;
    }
    if (existing === undefined) {
      const table: TomlTable = {};
      this.origins.set(table, 'header');
      this.define(parent, last, table, line);
      return table;
    }
    if (isTable(existing) && this.origins.get(existing) === 'implicit') {
      // [a.b] made `a` implicitly; [a] may still define it, once.
      this.origins.set(existing, 'header');
      lines.get(parent)?.set(last, line);
      return existing;
    }
    if (Array.isArray(existing) && this.tableArrays.has(existing)) {
      throw new TomlError(line, `key ${JSON.stringify(name)} is already defined as an array of tables ([[${name}]])`);
    }
    if (!isTable(existing)) throw new TomlError(line, `key ${JSON.stringify(name)} is already defined as a value`);
    throw new TomlError(line, `table ${JSON.stringify(name)} is already defined`);
  }

  private keyValue(table: TomlTable): void {
    const line = this.line;
    const path = this.key();
    this.skipSpaces();
    if (this.peek() !== '=') throw this.fail(`expected "=" after the key ${JSON.stringify(path.join('.'))}`);
    this.pos++;
    this.skipSpaces();
    const value = this.value();
    const parent = this.walk(table, path.slice(0, -1), line, 'dotted');
    this.define(parent, path[path.length - 1] as string, value, line);
  }

  /**
   * The table at `path` below `from`, made where missing. A path through an
   * array of tables goes to its last element ([[a]] then [a.b] extends the
   * last `a`). Inline tables and values are closed.
   */
  private walk(from: TomlTable, path: string[], line: number, made: Origin): TomlTable {
    let table = from;
    for (let i = 0; i < path.length; i++) {
      const key = path[i] as string;
      const next = table[key];
      if (next === undefined) {
        const created: TomlTable = {};
        this.origins.set(created, made);
        this.define(table, key, created, line);
        table = created;
      } else if (Array.isArray(next) && this.tableArrays.has(next)) {
        table = next[next.length - 1] as TomlTable;
      } else if (isTable(next) && this.origins.get(next) !== 'inline') {
        const origin = this.origins.get(next);
        if (made === 'dotted' && (origin === 'header' || origin === 'array-element')) {
          // A dotted key may not add to a table that a [header] defined.
          throw new TomlError(line, `table ${JSON.stringify(path.slice(0, i + 1).join('.'))} is already defined`);
        }
        table = next;
      } else {
        throw new TomlError(
          line,
          `key ${JSON.stringify(path.slice(0, i + 1).join('.'))} is already defined as a value`,
        );
      }
    }
    return table;
  }

  private define(table: TomlTable, key: string, value: TomlValue, line: number): void {
    if (Object.hasOwn(table, key)) {
      throw new TomlError(line, `key ${JSON.stringify(key)} is already defined (on line ${lineOf(table, key) ?? '?'})`);
    }
    table[key] = value;
    let known = lines.get(table);
    if (known === undefined) lines.set(table, (known = new Map()));
    known.set(key, line);
  }

  // ------------------------------------------------------------ keys

  /** A key: parts separated by dots, each bare or quoted. */
  private key(): string[] {
    const parts: string[] = [];
    for (;;) {
      this.skipSpaces();
      const c = this.peek();
      if (c === '"') {
        if (this.text.startsWith('"""', this.pos)) throw this.fail('a key cannot be a multi-line string');
        parts.push(this.basicString());
      } else if (c === "'") {
        if (this.text.startsWith("'''", this.pos)) throw this.fail('a key cannot be a multi-line string');
        parts.push(this.literalString());
      } else {
        const start = this.pos;
        while (this.pos < this.text.length && BARE_KEY.test(this.text[this.pos] as string)) this.pos++;
        if (this.pos === start) {
          throw this.fail(
            c === undefined || c === '\n' ? 'expected a key' : `unexpected ${describe(c)} where a key was expected`,
          );
        }
        parts.push(this.text.slice(start, this.pos));
      }
      this.skipSpaces();
      if (this.peek() !== '.') return parts;
      this.pos++;
    }
  }

  // ------------------------------------------------------------ values

  private value(): TomlValue {
    const c = this.peek();
    if (c === '"') return this.text.startsWith('"""', this.pos) ? this.multiLineBasicString() : this.basicString();
    if (c === "'") return this.text.startsWith("'''", this.pos) ? this.multiLineLiteralString() : this.literalString();
    if (c === '[') return this.array();
    if (c === '{') return this.inlineTable();
    const start = this.pos;
    while (this.pos < this.text.length && /[A-Za-z0-9_+\-.:]/.test(this.text[this.pos] as string)) this.pos++;
    const word = this.text.slice(start, this.pos);
    if (word === 'true') return true;
    if (word === 'false') return false;
    if (/^[+-]?(?:0|[1-9](?:_?[0-9])*)$/.test(word)) {
      const n = Number(word.replace(/_/g, ''));
      if (!Number.isSafeInteger(n)) throw this.fail(`the integer ${word} is too large`);
      return n;
    }
    if (word === '') {
      throw this.fail(
        c === undefined || c === '\n' || c === '#'
          ? 'expected a value after "="'
          : `unexpected ${describe(c)} where a value was expected`,
      );
    }
    if (/^\d{4}-\d{2}-\d{2}/.test(word)) throw this.fail(`dates and times (${word}) are not supported here`);
    if (/^[+-]?(?:\d[\d_]*)?(?:\.\d|[eE])|^[+-]?(?:inf|nan)$/.test(word)) {
      throw this.fail(`floats (${word}) are not supported here`);
    }
    if (/^0[xob]/.test(word))
      throw this.fail(`hexadecimal, octal and binary integers (${word}) are not supported here`);
    throw this.fail(`${JSON.stringify(word)} is not a value: strings need quotes`);
  }

  private array(): TomlValue[] {
    this.pos++; // [
    const items: TomlValue[] = [];
    for (;;) {
      this.skipBlankAndComments();
      if (this.peek() === ']') {
        this.pos++;
        return items;
      }
      if (this.pos >= this.text.length) throw this.fail('the array has no closing "]"');
      items.push(this.value());
      this.skipBlankAndComments();
      const c = this.peek();
      if (c === ',') {
        this.pos++;
      } else if (c === ']') {
        this.pos++;
        return items;
      } else {
        throw this.fail(
          c === undefined ? 'the array has no closing "]"' : `expected "," or "]" in the array, not ${describe(c)}`,
        );
      }
    }
  }

  private inlineTable(): TomlTable {
    this.pos++; // {
    const table: TomlTable = {};
    this.origins.set(table, 'inline');
    this.skipSpaces();
    if (this.peek() === '}') {
      this.pos++;
      return table;
    }
    for (;;) {
      const line = this.line;
      const path = this.key();
      this.skipSpaces();
      if (this.peek() !== '=') throw this.fail(`expected "=" after the key ${JSON.stringify(path.join('.'))}`);
      this.pos++;
      this.skipSpaces();
      const value = this.value();
      // Dotted keys inside an inline table make tables that belong to it: closed like it.
      let parent = table;
      for (const part of path.slice(0, -1)) {
        const next = parent[part];
        if (next === undefined) {
          const created: TomlTable = {};
          this.origins.set(created, 'inline');
          this.define(parent, part, created, line);
          parent = created;
        } else if (isTable(next)) {
          parent = next;
        } else {
          throw new TomlError(line, `key ${JSON.stringify(part)} is already defined as a value`);
        }
      }
      this.define(parent, path[path.length - 1] as string, value, line);
      this.skipSpaces();
      const c = this.peek();
      this.pos++;
      if (c === '}') return table;
      if (c !== ',') {
        this.pos--;
        throw this.fail(
          c === undefined || c === '\n'
            ? 'an inline table must close with "}" on its line'
            : `expected "," or "}" in the inline table, not ${describe(c)}`,
        );
      }
      this.skipSpaces();
    }
  }

  // ------------------------------------------------------------ strings

  private basicString(): string {
    this.pos++; // "
    let out = '';
    for (;;) {
      const c = this.text[this.pos];
      if (c === undefined || c === '\n' || (c === '\r' && this.text[this.pos + 1] === '\n')) {
        throw this.fail('the string has no closing quote on its line');
      }
      this.pos++;
      if (c === '"') return out;
      if (c === '\\') out += this.escape();
      else if (isControl(c)) throw this.fail(`the string holds a control character (${describe(c)}): escape it`);
      else out += c;
    }
  }

  private multiLineBasicString(): string {
    this.pos += 3;
    this.skipNewline();
    let out = '';
    for (;;) {
      if (this.text.startsWith('"""', this.pos)) {
        // Up to two quotes may end the content right before the closing three.
        let extra = 0;
        while (extra < 2 && this.text[this.pos + 3 + extra] === '"') extra++;
        out += '"'.repeat(extra);
        this.pos += 3 + extra;
        return out;
      }
      const c = this.text[this.pos];
      if (c === undefined) throw this.fail('the multi-line string has no closing """');
      this.pos++;
      if (c === '\\') {
        // A backslash at the end of a line trims the line break and the blanks after it.
        LINE_END_AFTER_BACKSLASH.lastIndex = this.pos;
        if (LINE_END_AFTER_BACKSLASH.test(this.text)) {
          while (/[ \t\r\n]/.test(this.text[this.pos] ?? '')) {
            if (this.text[this.pos] === '\n') this.line++;
            this.pos++;
          }
          continue;
        }
        out += this.escape();
      } else if (c === '\n') {
        this.line++;
        out += c;
      } else if (isControl(c) && c !== '\r') {
        throw this.fail(`the string holds a control character (${describe(c)}): escape it`);
      } else {
        out += c;
      }
    }
  }

  private literalString(): string {
    this.pos++; // '
    const start = this.pos;
    for (;;) {
      const c = this.text[this.pos];
      if (c === undefined || c === '\n' || (c === '\r' && this.text[this.pos + 1] === '\n')) {
        throw this.fail('the string has no closing quote on its line');
      }
      if (c === "'") {
        this.pos++;
        return this.text.slice(start, this.pos - 1);
      }
      if (isControl(c)) throw this.fail(`the string holds a control character (${describe(c)})`);
      this.pos++;
    }
  }

  private multiLineLiteralString(): string {
    this.pos += 3;
    this.skipNewline();
    const start = this.pos;
    const end = this.text.indexOf("'''", this.pos);
    if (end < 0) throw this.fail("the multi-line string has no closing '''");
    let extra = 0;
    while (extra < 2 && this.text[end + 3 + extra] === "'") extra++;
    const content = this.text.slice(start, end + extra);
    this.line += content.split('\n').length - 1;
    this.pos = end + 3 + extra;
    return content;
  }

  private escape(): string {
    const c = this.text[this.pos++];
    const simple: Record<string, string> = { b: '\b', t: '\t', n: '\n', f: '\f', r: '\r', '"': '"', '\\': '\\' };
    if (c !== undefined && simple[c] !== undefined) return simple[c];
    if (c === 'u' || c === 'U') {
      const digits = c === 'u' ? 4 : 8;
      const hex = this.text.slice(this.pos, this.pos + digits);
      if (!new RegExp(`^[0-9A-Fa-f]{${digits}}$`).test(hex))
        throw this.fail(`\\${c} needs ${digits} hexadecimal digits`);
      const code = parseInt(hex, 16);
      if (code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff))
        throw this.fail(`\\${c}${hex} is not a Unicode scalar value`);
      this.pos += digits;
      return String.fromCodePoint(code);
    }
    throw this.fail(`unknown escape \\${c ?? ''} in a string (write \\\\ for a backslash)`);
  }

  // ------------------------------------------------------------ blanks

  private peek(): string | undefined {
    return this.text[this.pos];
  }

  private skipSpaces(): void {
    while (this.peek() === ' ' || this.peek() === '\t') this.pos++;
  }

  private skipNewline(): void {
    if (this.text.startsWith('\r\n', this.pos)) this.pos += 2;
    else if (this.peek() === '\n') this.pos++;
    else return;
    this.line++;
  }

  private skipComment(): void {
    if (this.peek() !== '#') return;
    while (this.pos < this.text.length && this.peek() !== '\n') {
      const c = this.peek() as string;
      if (isControl(c) && c !== '\t' && !(c === '\r' && this.text[this.pos + 1] === '\n')) {
        throw this.fail(`a comment holds a control character (${describe(c)})`);
      }
      this.pos++;
    }
  }

  /** Blanks, comments and line breaks (between statements, and inside arrays). */
  private skipBlankAndComments(): void {
    for (;;) {
      this.skipSpaces();
      this.skipComment();
      const before = this.pos;
      this.skipNewline();
      if (this.pos === before) return;
    }
  }

  /** After a statement: blanks, maybe a comment, then the end of the line or of the text. */
  private endOfLine(): void {
    this.skipSpaces();
    this.skipComment();
    if (this.pos >= this.text.length) return;
    const before = this.pos;
    this.skipNewline();
    if (this.pos === before)
      throw this.fail(`unexpected ${describe(this.peek() as string)} after a value: one key = value per line`);
  }

  private fail(reason: string): TomlError {
    return new TomlError(this.line, reason);
  }
}

function isTable(value: TomlValue | undefined): value is TomlTable {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isControl(c: string): boolean {
  const code = c.charCodeAt(0);
  return (code < 0x20 && c !== '\t') || code === 0x7f;
}

function describe(c: string): string {
  if (c === '\n') return 'the end of the line';
  const code = c.charCodeAt(0);
  return code < 0x20 || code === 0x7f ? `U+${code.toString(16).padStart(4, '0').toUpperCase()}` : JSON.stringify(c);
}

/** Parses a TOML document (the subset above); throws TomlError naming the line. */
export function parseToml(text: string): TomlTable {
  const body = text.startsWith('\uFEFF') ? text.slice(1) : text;
  return new Parser(body).parse();
}

/** The kind of a value, in TOML's words, for type errors. */
export function tomlType(value: TomlValue): string {
  if (typeof value === 'string') return 'a string';
  if (typeof value === 'boolean') return 'a boolean';
  if (typeof value === 'number') return 'an integer';
  if (Array.isArray(value)) return 'an array';
  return 'a table';
}
