/**
 * Variable expansion and word splitting, as BuildKit's dockerfile shell lexer
 * does it (frontend/dockerfile/shell/lex.go): `$VAR`, `${VAR}`,
 * `${VAR:-word}` `${VAR-word}` `${VAR:+word}` `${VAR+word}` `${VAR:?msg}`
 * `${VAR?msg}`, `${VAR#pat}` `${VAR##pat}` `${VAR%pat}` `${VAR%%pat}`,
 * `${VAR/pat/repl}` `${VAR//pat/repl}`; single and double quotes; the escape
 * character (`\` or the one `# escape=` chose).
 *
 * Expansion is a pure function of a word and a {@link Variables} lookup, so
 * the executor calls it step by step with the scope of that step (scope.ts).
 */

export type EscapeChar = '\\' | '`';

/** A variable lookup: the value, or undefined when the variable is unset. */
export interface Variables {
  get(name: string): string | undefined;
}

/** A failed expansion: `failed to process "${x": syntax error: missing '}'`. */
export class ExpansionError extends Error {
  constructor(
    readonly word: string,
    readonly reason: string,
  ) {
    super(`failed to process ${JSON.stringify(word)}: ${reason}`);
    this.name = 'ExpansionError';
  }
}

export interface LexOptions {
  /** The escape character; `\` unless `# escape=` said otherwise. */
  escape?: EscapeChar;
  /** Keep quote characters in the result (quotes still group words). */
  rawQuotes?: boolean;
  /** Keep escape characters in the result. */
  rawEscapes?: boolean;
  /** Quotes are ordinary characters (heredoc bodies: the quotes belong to the script). */
  skipProcessQuotes?: boolean;
  /** Leave references to unset variables as written (`$X`, `${X:-y}`). */
  skipUnset?: boolean;
}

export interface ExpansionResult {
  /** The word with variables replaced and quotes removed, spaces kept (ProcessWord). */
  word: string;
  /** The words, split at unquoted white space after expansion (ProcessWords). */
  words: string[];
  /** Variables that were referenced and set. */
  used: Set<string>;
  /** Variables that were referenced and unset. */
  unset: Set<string>;
}

const EMPTY: Variables = { get: () => undefined };

/** Go's unicode.IsSpace on one code point. */
function isSpace(ch: string): boolean {
  return /^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]$/u.test(ch);
}

function isLetterOrDigit(ch: string): boolean {
  return /^[\p{L}\p{Nd}]$/u.test(ch);
}

function isDigit(ch: string): boolean {
  return /^\p{Nd}$/u.test(ch);
}

/** Collects words as the shell splits them: expansion results split at spaces, quoted text never. */
class WordCollector {
  private buf = '';
  private inWord = false;
  readonly words: string[] = [];

  addChar(ch: string): void {
    if (isSpace(ch)) {
      if (this.inWord && this.buf.length > 0) {
        this.words.push(this.buf);
        this.buf = '';
        this.inWord = false;
      }
    } else {
      this.addRawChar(ch);
    }
  }

  addRawChar(ch: string): void {
    this.buf += ch;
    this.inWord = true;
  }

  addString(str: string): void {
    for (const ch of str) this.addChar(ch);
  }

  addRawString(str: string): void {
    this.buf += str;
    this.inWord = true;
  }

  finish(): string[] {
    if (this.buf.length > 0) {
      this.words.push(this.buf);
      this.buf = '';
      this.inWord = false;
    }
    return this.words;
  }
}

const EOF = '';

class ShellWord {
  private readonly chars: string[];
  private pos = 0;
  private rawEscapes: boolean;
  readonly used = new Set<string>();
  readonly unset = new Set<string>();

  constructor(
    text: string,
    private readonly vars: Variables,
    private readonly options: Required<LexOptions>,
  ) {
    this.chars = Array.from(text);
    this.rawEscapes = options.rawEscapes;
  }

  private peek(): string {
    return this.chars[this.pos] ?? EOF;
  }

  private next(): string {
    const ch = this.chars[this.pos] ?? EOF;
    if (ch !== EOF) this.pos++;
    return ch;
  }

  private lookup(name: string): string | undefined {
    const value = this.vars.get(name);
    if (value === undefined) this.unset.add(name);
    else this.used.add(name);
    return value;
  }

  /** Processes until stopChar (consumed) or the end; returns the word and the split words. */
  processStopOn(stopChar: string, rawEscapes: boolean): { word: string; words: string[] } {
    let result = '';
    const words = new WordCollector();
    const saved = this.rawEscapes;
    this.rawEscapes = rawEscapes;
    try {
      while (this.peek() !== EOF) {
        const ch = this.peek();
        if (stopChar !== EOF && ch === stopChar) {
          this.next();
          return { word: result, words: words.finish() };
        }
        if (ch === '$') {
          const value = this.processDollar();
          result += value;
          words.addString(value);
        } else if (!this.options.skipProcessQuotes && (ch === "'" || ch === '"')) {
          const value = ch === "'" ? this.processSingleQuote() : this.processDoubleQuote();
          result += value;
          words.addRawString(value);
        } else {
          let c = this.next();
          if (c === this.options.escape) {
            if (this.rawEscapes) {
              words.addRawChar(c);
              result += c;
            }
            // The escape character escapes the next one; alone at the end it vanishes.
            c = this.next();
            if (c === EOF) break;
            words.addRawChar(c);
          } else {
            words.addChar(c);
          }
          result += c;
        }
      }
      if (stopChar !== EOF) throw new Error(`unexpected end of statement while looking for matching ${stopChar}`);
      return { word: result, words: words.finish() };
    } finally {
      this.rawEscapes = saved;
    }
  }

  private processSingleQuote(): string {
    // Everything up to the next ' is literal; a ' cannot be escaped inside.
    let result = '';
    const open = this.next();
    if (this.options.rawQuotes) result += open;
    for (;;) {
      const ch = this.next();
      if (ch === EOF) throw new Error('unexpected end of statement while looking for matching single-quote');
      if (ch === "'") {
        if (this.options.rawQuotes) result += ch;
        return result;
      }
      result += ch;
    }
  }

  private processDoubleQuote(): string {
    // Literal except $ (expanded) and the escape character, which escapes only " $ and itself.
    let result = '';
    const open = this.next();
    if (this.options.rawQuotes) result += open;
    for (;;) {
      const peek = this.peek();
      if (peek === EOF) throw new Error('unexpected end of statement while looking for matching double-quote');
      if (peek === '"') {
        const close = this.next();
        if (this.options.rawQuotes) result += close;
        return result;
      }
      if (peek === '$') {
        result += this.processDollar();
        continue;
      }
      let ch = this.next();
      if (ch === this.options.escape) {
        if (this.rawEscapes) result += ch;
        const after = this.peek();
        if (after === EOF) continue;
        if (after === '"' || after === '$' || after === this.options.escape) ch = this.next();
      }
      result += ch;
    }
  }

  private processDollar(): string {
    this.next();
    if (this.peek() !== '{') {
      const name = this.processName();
      if (name === '') return '$';
      const value = this.lookup(name);
      if (value === undefined && this.options.skipUnset) return `$${name}`;
      return value ?? '';
    }
    this.next();
    const first = this.peek();
    if (first === EOF) throw new Error("syntax error: missing '}'");
    if (first === '{' || first === '}' || first === ':') throw new Error('syntax error: bad substitution');
    const name = this.processName();
    let ch = this.next();
    let modifier = ch;
    if (ch === EOF) throw new Error("syntax error: missing '}'");
    if (ch === '}') {
      const value = this.lookup(name);
      if (value === undefined && this.options.skipUnset) return `\${${name}}`;
      return value ?? '';
    }
    if (ch === '/') return this.processReplace(name);
    let nullIsUnset = false;
    if (ch === ':') {
      nullIsUnset = true;
      ch = this.next();
      modifier += ch;
    }
    if (ch === '' || !'+-?#%'.includes(ch)) throw new Error(`unsupported modifier (${modifier}) in substitution`);
    const patternLike = ch === '#' || ch === '%';
    if (nullIsUnset && patternLike) throw new Error(`unsupported modifier (${modifier}) in substitution`);
    let word: string;
    try {
      word = this.processStopOn('}', patternLike).word;
    } catch (error) {
      if (this.peek() === EOF) throw new Error("syntax error: missing '}'");
      throw error;
    }
    const value = this.lookup(name);
    if (value === undefined && this.options.skipUnset) return `\${${name}${modifier}${word}}`;
    const empty = value === undefined || (nullIsUnset && value === '');
    switch (ch) {
      case '-':
        return empty ? word : (value as string);
      case '+':
        return empty ? '' : word;
      case '?':
        if (value === undefined) throw new Error(`${name}: ${word || 'is not allowed to be unset'}`);
        if (nullIsUnset && value === '') throw new Error(`${name}: ${word || 'is not allowed to be empty'}`);
        return value;
      default: {
        // # and %: the shortest match, ## and %% the longest.
        let pattern = word;
        let greedy = false;
        if (pattern.startsWith(ch)) {
          greedy = true;
          pattern = pattern.slice(1);
        }
        return ch === '%' ? trimSuffix(pattern, value ?? '', greedy) : trimPrefix(pattern, value ?? '', greedy);
      }
    }
  }

  /** `${name/pattern/replacement}` and `${name//pattern/replacement}` (after the first `/`). */
  private processReplace(name: string): string {
    const replaceAll = this.peek() === '/';
    if (replaceAll) this.next();
    let pattern: string;
    try {
      pattern = this.processStopOn('/', true).word;
    } catch (error) {
      if (this.peek() === EOF) throw new Error("syntax error: missing '/' in ${}");
      throw error;
    }
    let replacement: string;
    try {
      replacement = this.processStopOn('}', true).word;
    } catch (error) {
      if (this.peek() === EOF) throw new Error("syntax error: missing '}'");
      throw error;
    }
    const value = this.lookup(name);
    if (value === undefined && this.options.skipUnset) return `\${${name}/${pattern}/${replacement}}`;
    const re = shellPatternToRegExp(pattern, true, false, replaceAll);
    const subject = value ?? '';
    if (replaceAll) return subject.replace(re, () => replacement);
    const m = re.exec(subject);
    return m === null ? subject : subject.slice(0, m.index) + replacement + subject.slice(m.index + m[0].length);
  }

  /** A name: letters, digits, `_`; or all leading digits; or one special parameter. */
  private processName(): string {
    let name = '';
    while (this.peek() !== EOF) {
      const ch = this.peek();
      if (name.length === 0 && isDigit(ch)) {
        while (this.peek() !== EOF && isDigit(this.peek())) name += this.next();
        return name;
      }
      if (name.length === 0 && '@*#?-$!0'.includes(ch)) return this.next();
      if (!isLetterOrDigit(ch) && ch !== '_') break;
      name += this.next();
    }
    return name;
  }
}

/**
 * A shell pattern (`*` any run, `?` one character, `\` escapes `*?\` and,
 * without being part of it, `}` and `/`) as a regular expression; bracket
 * expressions are not supported, as in BuildKit.
 */
function shellPatternToRegExp(pattern: string, greedy: boolean, anchored: boolean, global = false): RegExp {
  let out = anchored ? '^' : '';
  const star = greedy ? '.*' : '.*?';
  const chars = Array.from(pattern);
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i] as string;
    if (ch === '*') out += star;
    else if (ch === '?') out += '.';
    else if (ch === '\\') {
      const nextCh = chars[i + 1];
      if (nextCh === '}' || nextCh === '/') continue;
      i++;
      if (nextCh !== '*' && nextCh !== '?' && nextCh !== '\\') {
        throw new Error(`invalid pattern (${pattern}) in substitution: invalid escape '\\${nextCh ?? ''}'`);
      }
      out += `\\${nextCh}`;
    } else if (/[[\]{}.+()|^$/-]/.test(ch)) out += `\\${ch}`;
    else out += ch;
  }
  return new RegExp(out, global ? 'gsu' : 'su');
}

function trimPrefix(pattern: string, value: string, greedy: boolean): string {
  const m = shellPatternToRegExp(pattern, greedy, true).exec(value);
  return m === null ? value : value.slice(m[0].length);
}

/** Reverses a pattern keeping each `\x` escape in front of what it escapes. */
function reversePattern(pattern: string): string {
  const runes = Array.from(pattern);
  const out: string[] = new Array<string>(runes.length);
  const last = runes.length - 1;
  for (let i = 0; i <= last;) {
    const tok = runes[i] as string;
    const at = last - i;
    if (tok === '\\' && i !== last) {
      out[at - 1] = tok;
      out[at] = runes[i + 1] as string;
      i += 2;
    } else {
      out[at] = tok;
      i++;
    }
  }
  return out.join('');
}

function reverse(s: string): string {
  return Array.from(s).reverse().join('');
}

function trimSuffix(pattern: string, value: string, greedy: boolean): string {
  // A regular expression finds the leftmost match: reverse both to find the rightmost.
  return reverse(trimPrefix(reversePattern(pattern), reverse(value), greedy));
}

function withDefaults(options: LexOptions): Required<LexOptions> {
  return {
    escape: options.escape ?? '\\',
    rawQuotes: options.rawQuotes ?? false,
    rawEscapes: options.rawEscapes ?? false,
    skipProcessQuotes: options.skipProcessQuotes ?? false,
    skipUnset: options.skipUnset ?? false,
  };
}

/**
 * Expands `text`: the whole word (ProcessWord), the split words
 * (ProcessWords), and which variables it used. Throws ExpansionError.
 */
export function expand(text: string, vars: Variables = EMPTY, options: LexOptions = {}): ExpansionResult {
  const sw = new ShellWord(text, vars, withDefaults(options));
  try {
    const { word, words } = sw.processStopOn(EOF, options.rawEscapes ?? false);
    return { word, words, used: sw.used, unset: sw.unset };
  } catch (error) {
    throw new ExpansionError(text, error instanceof Error ? error.message : String(error));
  }
}

/** One word with variables replaced and quotes removed (BuildKit's ProcessWord). */
export function expandWord(word: string, vars: Variables = EMPTY, options: LexOptions = {}): string {
  return expand(word, vars, options).word;
}

/** The words of `text` after expansion, split at unquoted white space (ProcessWords). */
export function expandWords(text: string, vars: Variables = EMPTY, options: LexOptions = {}): string[] {
  return expand(text, vars, options).words;
}

/**
 * A heredoc body as COPY writes it: variables expanded, quotes left alone
 * (they are the file's), `\` escapes (whatever `# escape=` says).
 */
export function expandHeredoc(body: string, vars: Variables): string {
  return expand(body, vars, { escape: '\\', skipProcessQuotes: true }).word;
}
