// The lexer of Go's text/template (Go 1.19, the version podman 4.3.1 is built with): text, `{{ }}`
// actions with the `{{- ` and ` -}}` trim markers, comments, and the tokens inside an action. A
// lexical error ends the item list with an error item, which the parser reports where it meets it.
import { sprintf } from './fmt.js';

export type ItemType =
  | 'error'
  | 'bool'
  | 'char'
  | 'charConstant'
  | 'comment'
  | 'complex'
  | 'assign'
  | 'declare'
  | 'eof'
  | 'field'
  | 'identifier'
  | 'leftDelim'
  | 'leftParen'
  | 'number'
  | 'pipe'
  | 'rawString'
  | 'rightDelim'
  | 'rightParen'
  | 'space'
  | 'string'
  | 'text'
  | 'variable'
  // Keywords: printed as <word> in error messages.
  | 'block'
  | 'break'
  | 'continue'
  | 'dot'
  | 'define'
  | 'else'
  | 'end'
  | 'if'
  | 'nil'
  | 'range'
  | 'template'
  | 'with';

export interface Item {
  type: ItemType;
  /** Offset in the template text (UTF-16 units; errors convert to Go's byte columns). */
  pos: number;
  val: string;
  line: number;
}

const KEYWORDS: ReadonlyMap<string, ItemType> = new Map<string, ItemType>([
  ['.', 'dot'],
  ['block', 'block'],
  ['break', 'break'],
  ['continue', 'continue'],
  ['define', 'define'],
  ['else', 'else'],
  ['end', 'end'],
  ['if', 'if'],
  ['range', 'range'],
  ['nil', 'nil'],
  ['template', 'template'],
  ['with', 'with'],
]);

function isKeyword(type: ItemType): boolean {
  return [...KEYWORDS.values()].includes(type);
}

/** How Go prints a token in a parse error: EOF, <keyword>, or the quoted text (cut at 10 runes). */
export function itemString(item: Item): string {
  if (item.type === 'eof') return 'EOF';
  if (item.type === 'error') return item.val;
  if (isKeyword(item.type)) return `<${item.val}>`;
  if ([...item.val].length > 10) return `${sprintf('%.10q', [item.val])}...`;
  return sprintf('%q', [item.val]);
}

const LEFT = '{{';
const RIGHT = '}}';
const LEFT_COMMENT = '/*';
const RIGHT_COMMENT = '*/';
const TRIM_MARKER_LEN = 2;

const isSpace = (c: string | undefined): boolean => c === ' ' || c === '\t' || c === '\r' || c === '\n';
const isAlphaNumeric = (c: string | undefined): boolean => c !== undefined && /^[_\p{L}\p{Nd}]$/u.test(c);
const hasLeftTrimMarker = (s: string): boolean => s[0] === '-' && isSpace(s[1]);
const hasRightTrimMarker = (s: string): boolean => isSpace(s[0]) && s[1] === '-';
const trimRightLength = (s: string): number => s.length - s.replace(/[ \t\r\n]+$/, '').length;
const trimLeftLength = (s: string): number => s.length - s.replace(/^[ \t\r\n]+/, '').length;

class LexError extends Error {}

/** Splits a template into Go's items; the last is eof or error. */
export function lex(input: string): Item[] {
  const items: Item[] = [];
  let start = 0;
  let pos = 0;
  let parenDepth = 0;

  const lineAt = (p: number): number => {
    let line = 1;
    for (let i = input.indexOf('\n'); i >= 0 && i < p; i = input.indexOf('\n', i + 1)) line++;
    return line;
  };
  const emit = (type: ItemType): void => {
    items.push({ type, pos: start, val: input.slice(start, pos), line: lineAt(start) });
    start = pos;
  };
  const ignore = (): void => {
    start = pos;
  };
  const errorf = (message: string): never => {
    items.push({ type: 'error', pos: start, val: message, line: lineAt(start) });
    throw new LexError();
  };
  // One code point, or undefined at the end.
  const next = (): string | undefined => {
    if (pos >= input.length) {
      pos = input.length + 1;
      return undefined;
    }
    const c = String.fromCodePoint(input.codePointAt(pos) as number);
    pos += c.length;
    return c;
  };
  const backup = (c: string | undefined): void => {
    pos -= c === undefined ? 1 : c.length;
  };
  const peek = (): string | undefined => {
    const c = next();
    backup(c);
    return c;
  };
  const accept = (valid: string): boolean => {
    const c = next();
    if (c !== undefined && valid.includes(c)) return true;
    backup(c);
    return false;
  };
  const acceptRun = (valid: string): void => {
    while (accept(valid));
  };
  const atRightDelim = (): { delim: boolean; trim: boolean } => {
    const rest = input.slice(pos);
    if (hasRightTrimMarker(rest) && rest.startsWith(RIGHT, TRIM_MARKER_LEN)) return { delim: true, trim: true };
    return { delim: rest.startsWith(RIGHT), trim: false };
  };
  const atTerminator = (): boolean => {
    const c = peek();
    if (isSpace(c)) return true;
    if (c === undefined || '.,|:()'.includes(c)) return true;
    return input.startsWith(RIGHT, pos);
  };
  const unicodeName = (c: string | undefined): string =>
    sprintf('%#U', [c === undefined ? -1 : (c.codePointAt(0) as number)]);

  function lexText(): void {
    const x = input.indexOf(LEFT, pos);
    if (x < 0) {
      pos = input.length;
      if (pos > start) emit('text');
      emit('eof');
      return;
    }
    if (x > pos) {
      pos = x;
      const trim = hasLeftTrimMarker(input.slice(pos + LEFT.length)) ? trimRightLength(input.slice(start, pos)) : 0;
      pos -= trim;
      if (pos > start) emit('text');
      pos += trim;
      ignore();
    }
    lexLeftDelim();
  }

  function lexLeftDelim(): void {
    pos += LEFT.length;
    const trim = hasLeftTrimMarker(input.slice(pos));
    const afterMarker = trim ? TRIM_MARKER_LEN : 0;
    if (input.startsWith(LEFT_COMMENT, pos + afterMarker)) {
      pos += afterMarker;
      ignore();
      lexComment();
      return;
    }
    emit('leftDelim');
    pos += afterMarker;
    ignore();
    parenDepth = 0;
    lexInsideAction();
  }

  function lexComment(): void {
    pos += LEFT_COMMENT.length;
    const x = input.indexOf(RIGHT_COMMENT, pos);
    if (x < 0) errorf('unclosed comment');
    pos = x + RIGHT_COMMENT.length;
    const { delim, trim } = atRightDelim();
    if (!delim) errorf('comment ends before closing delimiter');
    if (trim) pos += TRIM_MARKER_LEN;
    pos += RIGHT.length;
    if (trim) pos += trimLeftLength(input.slice(pos));
    ignore();
  }

  function lexRightDelim(trim: boolean): void {
    if (trim) {
      pos += TRIM_MARKER_LEN;
      ignore();
    }
    pos += RIGHT.length;
    emit('rightDelim');
    if (trim) {
      pos += trimLeftLength(input.slice(pos));
      ignore();
    }
  }

  // Returns when the action's right delimiter has been emitted.
  function lexInsideAction(): void {
    for (;;) {
      const { delim, trim } = atRightDelim();
      if (delim) {
        if (parenDepth === 0) {
          lexRightDelim(trim);
          return;
        }
        errorf('unclosed left paren');
      }
      const c = next();
      if (c === undefined) errorf('unclosed action');
      else if (isSpace(c)) {
        backup(c);
        lexSpace();
      } else if (c === '=') emit('assign');
      else if (c === ':') {
        if (next() !== '=') errorf('expected :=');
        emit('declare');
      } else if (c === '|') emit('pipe');
      else if (c === '"') lexQuote();
      else if (c === '`') lexRawQuote();
      else if (c === '$') lexFieldOrVariable('variable');
      else if (c === "'") lexChar();
      else if (c === '.' && pos < input.length && !/[0-9]/.test(input[pos] as string)) lexFieldOrVariable('field');
      else if (c === '.' || c === '+' || c === '-' || /[0-9]/.test(c)) {
        backup(c);
        lexNumber();
      } else if (isAlphaNumeric(c)) {
        backup(c);
        lexIdentifier();
      } else if (c === '(') {
        emit('leftParen');
        parenDepth++;
      } else if (c === ')') {
        emit('rightParen');
        parenDepth--;
        if (parenDepth < 0) errorf(`unexpected right paren ${unicodeName(c)}`);
      } else if ((c.codePointAt(0) as number) < 0x80 && /[\x20-\x7e]/.test(c)) emit('char');
      else errorf(`unrecognized character in action: ${unicodeName(c)}`);
    }
  }

  function lexSpace(): void {
    let spaces = 0;
    while (isSpace(peek())) {
      next();
      spaces++;
    }
    // A space before `-}}` belongs to the trim marker.
    if (hasRightTrimMarker(input.slice(pos - 1)) && input.startsWith(RIGHT, pos - 1 + TRIM_MARKER_LEN)) {
      pos--;
      if (spaces === 1) return;
    }
    emit('space');
  }

  function lexIdentifier(): void {
    for (;;) {
      const c = next();
      if (isAlphaNumeric(c)) continue;
      backup(c);
      const word = input.slice(start, pos);
      if (!atTerminator()) errorf(`bad character ${unicodeName(c)}`);
      const keyword = KEYWORDS.get(word);
      if (keyword !== undefined && keyword !== 'dot') emit(keyword);
      else if (word === 'true' || word === 'false') emit('bool');
      else emit('identifier');
      return;
    }
  }

  function lexFieldOrVariable(type: 'field' | 'variable'): void {
    if (atTerminator()) {
      emit(type === 'variable' ? 'variable' : 'dot');
      return;
    }
    let c: string | undefined;
    for (;;) {
      c = next();
      if (!isAlphaNumeric(c)) {
        backup(c);
        break;
      }
    }
    if (!atTerminator()) errorf(`bad character ${unicodeName(c)}`);
    emit(type);
  }

  function lexChar(): void {
    for (;;) {
      let c = next();
      if (c === '\\') {
        c = next();
        if (c !== undefined && c !== '\n') continue;
      }
      if (c === undefined || c === '\n') errorf('unterminated character constant');
      if (c === "'") break;
    }
    emit('charConstant');
  }

  function scanNumber(): boolean {
    accept('+-');
    let digits = '0123456789_';
    if (accept('0')) {
      if (accept('xX')) digits = '0123456789abcdefABCDEF_';
      else if (accept('oO')) digits = '01234567_';
      else if (accept('bB')) digits = '01_';
    }
    acceptRun(digits);
    if (accept('.')) acceptRun(digits);
    if (digits.length === 11 && accept('eE')) {
      accept('+-');
      acceptRun('0123456789_');
    }
    if (digits.length === 23 && accept('pP')) {
      accept('+-');
      acceptRun('0123456789_');
    }
    accept('i');
    if (isAlphaNumeric(peek())) {
      next();
      return false;
    }
    return true;
  }

  function lexNumber(): void {
    if (!scanNumber()) errorf(`bad number syntax: ${sprintf('%q', [input.slice(start, pos)])}`);
    const sign = peek();
    if (sign === '+' || sign === '-') {
      if (!scanNumber() || input[pos - 1] !== 'i') {
        errorf(`bad number syntax: ${sprintf('%q', [input.slice(start, pos)])}`);
      }
      emit('complex');
    } else emit('number');
  }

  function lexQuote(): void {
    for (;;) {
      let c = next();
      if (c === '\\') {
        c = next();
        if (c !== undefined && c !== '\n') continue;
      }
      if (c === undefined || c === '\n') errorf('unterminated quoted string');
      if (c === '"') break;
    }
    emit('string');
  }

  function lexRawQuote(): void {
    for (;;) {
      const c = next();
      if (c === undefined) errorf('unterminated raw quoted string');
      if (c === '`') break;
    }
    emit('rawString');
  }

  try {
    while (items.at(-1)?.type !== 'eof') lexText();
  } catch (error) {
    if (!(error instanceof LexError)) throw error;
  }
  return items;
}
