// Go's fmt.Sprint, Sprintln and Sprintf over the values of values.ts, with strconv's float
// formatting and quoting: what text/template prints an action with and what printf gives.
// Verbs: %v %+v %#v %T %t %d %b %o %O %x %X %c %q %U %e %E %f %F %g %G %s %%, flags # 0 + - space,
// widths and precisions (also `*`) and argument indexes (%[2]s); misuse prints as Go's does
// (%!d(string=x), %!s(MISSING), %!(EXTRA int=2), %!v(BADINDEX), %!(NOVERB)).
import { bytesOf, entriesOf, kindOf, numberOf, typeName } from './values.js';

interface Flags {
  plus: boolean;
  minus: boolean;
  sharp: boolean;
  space: boolean;
  zero: boolean;
  plusV: boolean;
  sharpV: boolean;
  wid: number;
  widPresent: boolean;
  prec: number;
  precPresent: boolean;
}

const cleared = (): Flags => ({
  plus: false,
  minus: false,
  sharp: false,
  space: false,
  zero: false,
  plusV: false,
  sharpV: false,
  wid: 0,
  widPresent: false,
  prec: 0,
  precPresent: false,
});

const LOWER_HEX = '0123456789abcdef';
const UPPER_HEX = '0123456789ABCDEF';
const runeCount = (s: string): number => [...s].length;
/** Go's fmt refuses widths and precisions above a million as malformed. */
const tooLarge = (n: number): boolean => n > 1e6 || n < -1e6;

class Printer {
  buf = '';
  f: Flags = cleared();

  private writePadding(n: number): void {
    if (n > 0) this.buf += (this.f.zero ? '0' : ' ').repeat(n);
  }

  private pad(s: string): void {
    if (!this.f.widPresent || this.f.wid === 0) {
      this.buf += s;
      return;
    }
    const width = this.f.wid - runeCount(s);
    if (this.f.minus) {
      this.buf += s;
      this.writePadding(width);
    } else {
      this.writePadding(width);
      this.buf += s;
    }
  }

  private withoutZero(fn: () => void): void {
    const zero = this.f.zero;
    this.f.zero = false;
    fn();
    this.f.zero = zero;
  }

  printArg(arg: unknown, verb: string): void {
    if (arg === null || arg === undefined) {
      if (verb === 'T' || verb === 'v') this.pad('<nil>');
      else this.badVerb(verb, arg);
      return;
    }
    if (verb === 'T') {
      this.fmtS(typeName(arg));
      return;
    }
    if (verb === 'p') {
      this.badVerb(verb, arg);
      return;
    }
    this.printValue(arg, verb, 0);
  }

  private badVerb(verb: string, arg: unknown): void {
    this.buf += `%!${verb}(`;
    if (arg === null || arg === undefined) this.buf += '<nil>';
    else {
      this.buf += `${typeName(arg)}=`;
      this.printArg(arg, 'v');
    }
    this.buf += ')';
  }

  private printValue(v: unknown, verb: string, depth: number): void {
    switch (kindOf(v)) {
      case 'invalid':
      case 'nil':
        this.buf += '<nil>';
        return;
      case 'bool':
        if (verb === 't' || verb === 'v') this.pad(v ? 'true' : 'false');
        else this.badVerb(verb, v);
        return;
      case 'int':
        this.fmtInteger(BigInt(v as number), verb, v);
        return;
      case 'float':
        this.fmtFloat(numberOf(v), verb, v);
        return;
      case 'string':
        this.fmtString(v as string, verb, v);
        return;
      case 'time':
        // time.Time is a fmt.Stringer: the verbs that take a string print its String().
        if ('vsxXq'.includes(verb)) this.fmtString(goTimeString(v as Date), verb, v);
        else this.badVerb(verb, v);
        return;
      case 'func':
        this.pad('<func>');
        return;
      case 'slice':
        this.printSlice(v as unknown[], verb, depth);
        return;
      case 'map':
      case 'struct':
        this.printObject(v as object, verb, depth);
        return;
    }
  }

  private printSlice(v: unknown[], verb: string, depth: number): void {
    if (this.f.sharpV) {
      this.buf += `${typeName(v)}{`;
      v.forEach((e, i) => {
        if (i > 0) this.buf += ', ';
        this.printValue(e, verb, depth + 1);
      });
      this.buf += '}';
      return;
    }
    this.buf += '[';
    v.forEach((e, i) => {
      if (i > 0) this.buf += ' ';
      this.printValue(e, verb, depth + 1);
    });
    this.buf += ']';
  }

  private printObject(v: object, verb: string, depth: number): void {
    const struct = kindOf(v) === 'struct';
    const entries = entriesOf(v);
    if (this.f.sharpV) this.buf += typeName(v);
    this.buf += struct || this.f.sharpV ? '{' : 'map[';
    entries.forEach(([key, value], i) => {
      if (i > 0) this.buf += this.f.sharpV ? ', ' : ' ';
      if (struct) {
        if (this.f.plusV || this.f.sharpV) this.buf += `${key}:`;
      } else {
        this.printValue(key, verb, depth + 1);
        this.buf += ':';
      }
      this.printValue(value, verb, depth + 1);
    });
    this.buf += struct || this.f.sharpV ? '}' : ']';
  }

  private fmtInteger(v: bigint, verb: string, arg: unknown): void {
    switch (verb) {
      case 'v':
      case 'd':
        this.fmtInt(v, 10, verb, LOWER_HEX);
        return;
      case 'b':
        this.fmtInt(v, 2, verb, LOWER_HEX);
        return;
      case 'o':
      case 'O':
        this.fmtInt(v, 8, verb, LOWER_HEX);
        return;
      case 'x':
        this.fmtInt(v, 16, verb, LOWER_HEX);
        return;
      case 'X':
        this.fmtInt(v, 16, verb, UPPER_HEX);
        return;
      case 'c':
        this.pad(String.fromCodePoint(runeOf(v)));
        return;
      case 'q':
        this.pad(quoteRune(runeOf(v), this.f.plus));
        return;
      case 'U':
        this.fmtUnicode(v);
        return;
      default:
        this.badVerb(verb, arg);
    }
  }

  private fmtInt(v: bigint, base: number, verb: string, digits: string): void {
    const negative = v < 0n;
    const u = negative ? -v : v;
    let prec = 0;
    if (this.f.precPresent) {
      prec = this.f.prec;
      if (prec === 0 && u === 0n) {
        this.withoutZero(() => this.writePadding(this.f.wid));
        return;
      }
    } else if (this.f.zero && this.f.widPresent) {
      prec = this.f.wid;
      if (negative || this.f.plus || this.f.space) prec--;
    }
    let s = u.toString(base);
    if (digits === UPPER_HEX) s = s.toUpperCase();
    s = s.padStart(prec, '0');
    if (this.f.sharp) {
      if (base === 2) s = `0b${s}`;
      else if (base === 8 && !s.startsWith('0')) s = `0${s}`;
      else if (base === 16) s = `0${digits === UPPER_HEX ? 'X' : 'x'}${s}`;
    }
    if (verb === 'O') s = `0o${s}`;
    if (negative) s = `-${s}`;
    else if (this.f.plus) s = `+${s}`;
    else if (this.f.space) s = ` ${s}`;
    this.withoutZero(() => this.pad(s));
  }

  private fmtUnicode(v: bigint): void {
    const u = BigInt.asUintN(64, v);
    const prec = this.f.precPresent && this.f.prec > 4 ? this.f.prec : 4;
    let s = `U+${u.toString(16).toUpperCase().padStart(prec, '0')}`;
    if (this.f.sharp && u <= 0x10ffffn && isPrint(Number(u))) s += ` '${String.fromCodePoint(Number(u))}'`;
    this.withoutZero(() => this.pad(s));
  }

  private fmtFloat(v: number, verb: string, arg: unknown): void {
    switch (verb) {
      case 'v':
        this.fmtFloatAs(v, 'g', -1);
        return;
      case 'b':
      case 'g':
      case 'G':
      case 'x':
      case 'X':
        this.fmtFloatAs(v, verb, -1);
        return;
      case 'f':
      case 'e':
      case 'E':
      case 'F':
        this.fmtFloatAs(v, verb, 6);
        return;
      default:
        this.badVerb(verb, arg);
    }
  }

  private fmtFloatAs(v: number, verb: string, defaultPrec: number): void {
    const prec = this.f.precPresent ? this.f.prec : defaultPrec;
    let num = formatFloat(v, verb === 'F' ? 'f' : verb, prec);
    if (num[0] !== '-' && num[0] !== '+') num = `+${num}`;
    if (this.f.space && num[0] === '+' && !this.f.plus) num = ` ${num.slice(1)}`;
    if (num[1] === 'I' || num[1] === 'N') {
      if (num[1] === 'N' && !this.f.space && !this.f.plus) num = num.slice(1);
      const padded = num;
      this.withoutZero(() => this.pad(padded));
      return;
    }
    if (this.f.sharp && verb !== 'b') num = sharpFloat(num, verb, prec);
    if (this.f.plus || num[0] !== '+') {
      if (this.f.zero && this.f.widPresent && this.f.wid > num.length) {
        this.buf += num[0];
        this.writePadding(this.f.wid - num.length);
        this.buf += num.slice(1);
        return;
      }
      this.pad(num);
      return;
    }
    this.pad(num.slice(1));
  }

  private fmtString(s: string, verb: string, arg: unknown): void {
    switch (verb) {
      case 'v':
        if (this.f.sharpV) this.fmtQ(s);
        else this.fmtS(s);
        return;
      case 's':
        this.fmtS(s);
        return;
      case 'x':
        this.fmtSx(s, LOWER_HEX);
        return;
      case 'X':
        this.fmtSx(s, UPPER_HEX);
        return;
      case 'q':
        this.fmtQ(s);
        return;
      default:
        this.badVerb(verb, arg);
    }
  }

  private truncate(s: string): string {
    if (!this.f.precPresent) return s;
    return [...s].slice(0, this.f.prec).join('');
  }

  private fmtS(s: string): void {
    this.pad(this.truncate(s));
  }

  private fmtQ(s: string): void {
    const t = this.truncate(s);
    if (this.f.sharp && canBackquote(t)) this.pad(`\`${t}\``);
    else this.pad(quote(t, this.f.plus));
  }

  private fmtSx(s: string, digits: string): void {
    const bytes = bytesOf(s);
    const length = this.f.precPresent && this.f.prec < bytes.length ? this.f.prec : bytes.length;
    let width = 2 * length;
    if (width === 0) {
      if (this.f.widPresent) this.writePadding(this.f.wid);
      return;
    }
    if (this.f.space) {
      if (this.f.sharp) width *= 2;
      width += length - 1;
    } else if (this.f.sharp) width += 2;
    if (this.f.widPresent && this.f.wid > width && !this.f.minus) this.writePadding(this.f.wid - width);
    const prefix = `0${digits === UPPER_HEX ? 'X' : 'x'}`;
    if (this.f.sharp) this.buf += prefix;
    for (let i = 0; i < length; i++) {
      if (this.f.space && i > 0) {
        this.buf += ' ';
        if (this.f.sharp) this.buf += prefix;
      }
      const c = bytes[i] as number;
      this.buf += (digits[c >> 4] as string) + (digits[c & 0xf] as string);
    }
    if (this.f.widPresent && this.f.wid > width && this.f.minus) this.writePadding(this.f.wid - width);
  }
}

/** The sharp flag keeps the decimal point and trailing zeros of %e, %f and %g. */
function sharpFloat(num: string, verb: string, prec: number): string {
  let digits = 0;
  if (verb === 'g' || verb === 'G' || verb === 'x') digits = prec === -1 ? 6 : prec;
  let body = num;
  let tail = '';
  let hasDecimalPoint = false;
  let sawNonzeroDigit = false;
  for (let i = 1; i < body.length; i++) {
    const c = body[i] as string;
    if (c === '.') hasDecimalPoint = true;
    else if (c === 'p' || c === 'P' || ((c === 'e' || c === 'E') && verb !== 'x' && verb !== 'X')) {
      tail = body.slice(i);
      body = body.slice(0, i);
      break;
    } else {
      if (c !== '0') sawNonzeroDigit = true;
      if (sawNonzeroDigit) digits--;
    }
  }
  if (!hasDecimalPoint) {
    if (body.length === 2 && body[1] === '0') digits--;
    body += '.';
  }
  return body + '0'.repeat(Math.max(0, digits)) + tail;
}

function runeOf(v: bigint): number {
  const u = BigInt.asUintN(64, v);
  if (u > 0x10ffffn) return 0xfffd;
  const r = Number(u);
  return r >= 0xd800 && r <= 0xdfff ? 0xfffd : r;
}

const PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S}]$/u;

/** unicode.IsPrint: letters, marks, numbers, punctuation, symbols and the ASCII space. */
export function isPrint(r: number): boolean {
  if (r === 0x20) return true;
  if (r > 0x10ffff || (r >= 0xd800 && r <= 0xdfff)) return false;
  return PRINTABLE.test(String.fromCodePoint(r));
}

function escapeRune(r: number, q: string, ascii: boolean): string {
  const c = String.fromCodePoint(r);
  if (c === q || c === '\\') return `\\${c}`;
  if (ascii ? r < 0x80 && isPrint(r) : isPrint(r)) return c;
  switch (r) {
    case 7:
      return '\\a';
    case 8:
      return '\\b';
    case 12:
      return '\\f';
    case 10:
      return '\\n';
    case 13:
      return '\\r';
    case 9:
      return '\\t';
    case 11:
      return '\\v';
    default:
      if (r < 0x20 || r === 0x7f) return `\\x${r.toString(16).padStart(2, '0')}`;
      if (r < 0x10000) return `\\u${r.toString(16).padStart(4, '0')}`;
      return `\\U${r.toString(16).padStart(8, '0')}`;
  }
}

const codePoints = (s: string): number[] =>
  [...s].map((c) => {
    const r = c.codePointAt(0) as number;
    return r >= 0xd800 && r <= 0xdfff ? 0xfffd : r;
  });

/** strconv.Quote (or QuoteToASCII). */
export function quote(s: string, ascii = false): string {
  return `"${codePoints(s)
    .map((r) => escapeRune(r, '"', ascii))
    .join('')}"`;
}

/** strconv.QuoteRune (or QuoteRuneToASCII). */
function quoteRune(r: number, ascii: boolean): string {
  return `'${escapeRune(r, "'", ascii)}'`;
}

function canBackquote(s: string): boolean {
  return codePoints(s).every((r) => !((r < 0x20 && r !== 9) || r === 0x60 || r === 0x7f || r === 0xfeff));
}

/** time.Time's String(), for the UTC times hutch keeps: `2026-12-08 01:37:34.393 +0000 UTC`. */
export function goTimeString(d: Date): string {
  const iso = d.toISOString();
  const frac = iso.slice(19, 23).replace(/\.?0+$/, '');
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}${frac} +0000 UTC`;
}

// ---- strconv.FormatFloat for float64 ----

/** Decimal digits without trailing zeros and the decimal point position: 0.0125 is {d: '125', dp: -1}. */
interface Digits {
  d: string;
  dp: number;
}

function bitsOf(v: number): { mant: bigint; exp: number } {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, v);
  const bits = view.getBigUint64(0);
  let exp = Number((bits >> 52n) & 0x7ffn);
  let mant = bits & ((1n << 52n) - 1n);
  if (exp === 0) exp = 1;
  else mant |= 1n << 52n;
  return { mant, exp: exp - 1023 };
}

/** The exact decimal value of a finite non-negative double. */
function exactDigits(v: number): Digits {
  if (v === 0) return { d: '', dp: 0 };
  const { mant, exp } = bitsOf(v);
  const e2 = exp - 52;
  let digits: string;
  let dp: number;
  if (e2 >= 0) {
    digits = (mant << BigInt(e2)).toString();
    dp = digits.length;
  } else {
    digits = (mant * 5n ** BigInt(-e2)).toString();
    dp = digits.length + e2;
  }
  return { d: digits.replace(/0+$/, ''), dp };
}

/** The shortest digits that read back as the same double (Go and JavaScript agree on them). */
function shortestDigits(v: number): Digits {
  if (v === 0) return { d: '', dp: 0 };
  const [mantissa, exponent] = v.toExponential().split('e') as [string, string];
  return { d: mantissa.replace('.', '').replace(/0+$/, ''), dp: Number(exponent) + 1 };
}

/** Rounds to nd digits, half to even, as strconv's decimal.Round. */
function roundDigits(a: Digits, nd: number): Digits {
  if (nd < 0 || nd >= a.d.length) return a;
  const next = a.d[nd] as string;
  const up = next === '5' && nd + 1 === a.d.length ? nd > 0 && Number(a.d[nd - 1]) % 2 === 1 : next >= '5';
  if (!up) return { d: a.d.slice(0, nd).replace(/0+$/, ''), dp: a.dp };
  for (let i = nd - 1; i >= 0; i--) {
    const c = a.d[i] as string;
    if (c < '9') return { d: a.d.slice(0, i) + String(Number(c) + 1), dp: a.dp };
  }
  return { d: '1', dp: a.dp + 1 };
}

function fmtE(digs: Digits, prec: number, fmt: string): string {
  const nd = digs.d.length;
  let s = nd > 0 ? (digs.d[0] as string) : '0';
  if (prec > 0) {
    s += '.';
    let i = 1;
    const m = Math.min(nd, prec + 1);
    if (i < m) {
      s += digs.d.slice(i, m);
      i = m;
    }
    for (; i <= prec; i++) s += '0';
  }
  let exp = nd === 0 ? 0 : digs.dp - 1;
  const sign = exp < 0 ? '-' : '+';
  exp = Math.abs(exp);
  return `${s}${fmt}${sign}${exp < 10 ? `0${exp}` : exp}`;
}

function fmtF(digs: Digits, prec: number): string {
  const nd = digs.d.length;
  let s: string;
  if (digs.dp > 0) {
    const m = Math.min(nd, digs.dp);
    s = digs.d.slice(0, m) + '0'.repeat(digs.dp - m);
  } else s = '0';
  if (prec > 0) {
    s += '.';
    for (let i = 1; i <= prec; i++) {
      const j = digs.dp + i - 1;
      s += j >= 0 && j < nd ? digs.d[j] : '0';
    }
  }
  return s;
}

function fmtB(v: number): string {
  const { mant, exp } = bitsOf(v);
  const e = exp - 52;
  return `${mant}p${e >= 0 ? '+' : ''}${e}`;
}

const MASK64 = (1n << 64n) - 1n;

function fmtX(v: number, prec: number, fmt: string): string {
  let { mant, exp } = bitsOf(v);
  if (mant === 0n) exp = 0;
  mant <<= 8n;
  while (mant !== 0n && (mant & (1n << 60n)) === 0n) {
    mant <<= 1n;
    exp--;
  }
  if (prec >= 0 && prec < 15) {
    const shift = BigInt(prec * 4);
    const extra = (mant << shift) & ((1n << 60n) - 1n);
    mant >>= 60n - shift;
    if ((extra | (mant & 1n)) > 1n << 59n) mant++;
    mant <<= 60n - shift;
    if ((mant & (1n << 61n)) !== 0n) {
      mant >>= 1n;
      exp++;
    }
  }
  const hex = fmt === 'X' ? UPPER_HEX : LOWER_HEX;
  let s = `0${fmt}${(mant >> 60n) & 1n}`;
  mant = (mant << 4n) & MASK64;
  const digit = (): string => {
    const c = hex[Number((mant >> 60n) & 15n)] as string;
    mant = (mant << 4n) & MASK64;
    return c;
  };
  if (prec < 0 && mant !== 0n) {
    s += '.';
    while (mant !== 0n) s += digit();
  } else if (prec > 0) {
    s += '.';
    for (let i = 0; i < prec; i++) s += digit();
  }
  const sign = exp < 0 ? '-' : '+';
  return `${s}${fmt === 'X' ? 'P' : 'p'}${sign}${String(Math.abs(exp)).padStart(2, '0')}`;
}

/** strconv.FormatFloat(v, fmt, prec, 64): fmt is one of b e E f g G x X; prec -1 is the shortest. */
export function formatFloat(v: number, fmt: string, prec: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  const sign = v < 0 || Object.is(v, -0) ? '-' : '';
  const abs = Math.abs(v);
  if (fmt === 'b') return sign + fmtB(abs);
  if (fmt === 'x' || fmt === 'X') return sign + fmtX(abs, prec, fmt);
  const shortest = prec < 0;
  let digs: Digits;
  if (shortest) {
    digs = shortestDigits(abs);
    const nd = digs.d.length;
    if (fmt === 'e' || fmt === 'E') prec = Math.max(nd - 1, 0);
    else if (fmt === 'f') prec = Math.max(nd - digs.dp, 0);
    else prec = nd;
  } else {
    digs = exactDigits(abs);
    if (fmt === 'e' || fmt === 'E') digs = roundDigits(digs, prec + 1);
    else if (fmt === 'f') digs = roundDigits(digs, digs.dp + prec);
    else {
      if (prec === 0) prec = 1;
      digs = roundDigits(digs, prec);
    }
  }
  if (fmt === 'e' || fmt === 'E') return sign + fmtE(digs, prec, fmt);
  if (fmt === 'f') return sign + fmtF(digs, prec);
  const nd = digs.d.length;
  let eprec = prec;
  if (eprec > nd && nd >= digs.dp) eprec = nd;
  if (shortest) eprec = 6;
  const exp = digs.dp - 1;
  if (exp < -4 || exp >= eprec) {
    return sign + fmtE(digs, Math.min(prec, nd) - 1, fmt === 'G' ? 'E' : 'e');
  }
  if (prec > digs.dp) prec = nd;
  return sign + fmtF(digs, Math.max(prec - digs.dp, 0));
}

// ---- Sprint, Sprintln, Sprintf ----

/** fmt.Sprint: operands printed with %v, a space between two when neither is a string. */
export function sprint(args: readonly unknown[]): string {
  const p = new Printer();
  let prevString = false;
  args.forEach((arg, i) => {
    const isString = typeof arg === 'string';
    if (i > 0 && !isString && !prevString) p.buf += ' ';
    p.printArg(arg, 'v');
    prevString = isString;
  });
  return p.buf;
}

/** fmt.Sprintln: operands printed with %v, spaces between, a newline after. */
export function sprintln(args: readonly unknown[]): string {
  const p = new Printer();
  args.forEach((arg, i) => {
    if (i > 0) p.buf += ' ';
    p.printArg(arg, 'v');
  });
  return `${p.buf}\n`;
}

function parsenum(s: string, start: number, end: number): { num: number; isnum: boolean; next: number } {
  let num = 0;
  let isnum = false;
  let i = start;
  for (; i < end && s[i] !== undefined && s[i]! >= '0' && s[i]! <= '9'; i++) {
    if (tooLarge(num)) return { num: 0, isnum: false, next: end };
    num = num * 10 + Number(s[i]);
    isnum = true;
  }
  return { num, isnum, next: i };
}

function intFromArg(args: readonly unknown[], argNum: number): { num: number; isInt: boolean; argNum: number } {
  if (argNum >= args.length) return { num: 0, isInt: false, argNum };
  const arg = args[argNum];
  if (kindOf(arg) !== 'int' || tooLarge(Number(arg))) return { num: 0, isInt: false, argNum: argNum + 1 };
  return { num: Number(arg), isInt: true, argNum: argNum + 1 };
}

/** fmt.Sprintf. */
export function sprintf(format: string, args: readonly unknown[]): string {
  const p = new Printer();
  const end = format.length;
  let argNum = 0;
  let afterIndex = false;
  let reordered = false;
  let goodArgNum = true;

  // An explicit argument index [n] at i, one-based in the format.
  const argNumber = (i: number): { argNum: number; i: number; found: boolean } => {
    if (i >= end || format[i] !== '[') return { argNum, i, found: false };
    reordered = true;
    const close = format.indexOf(']', i + 1);
    if (end - i < 3 || close < 0) {
      goodArgNum = false;
      return { argNum, i: i + 1, found: false };
    }
    const { num, isnum, next } = parsenum(format, i + 1, close);
    if (!isnum || next !== close) {
      goodArgNum = false;
      return { argNum, i: close + 1, found: false };
    }
    if (num - 1 >= 0 && num - 1 < args.length) return { argNum: num - 1, i: close + 1, found: true };
    goodArgNum = false;
    return { argNum, i: close + 1, found: true };
  };

  let i = 0;
  formatLoop: while (i < end) {
    goodArgNum = true;
    const lasti = i;
    while (i < end && format[i] !== '%') i++;
    if (i > lasti) p.buf += format.slice(lasti, i);
    if (i >= end) break;
    i++;
    p.f = cleared();
    const f = p.f;
    simpleFormat: for (; i < end; i++) {
      const c = format[i] as string;
      switch (c) {
        case '#':
          f.sharp = true;
          break;
        case '0':
          f.zero = !f.minus;
          break;
        case '+':
          f.plus = true;
          break;
        case '-':
          f.minus = true;
          f.zero = false;
          break;
        case ' ':
          f.space = true;
          break;
        default:
          if (c >= 'a' && c <= 'z' && argNum < args.length) {
            if (c === 'v') {
              f.sharpV = f.sharp;
              f.sharp = false;
              f.plusV = f.plus;
              f.plus = false;
            }
            p.printArg(args[argNum], c);
            argNum++;
            i++;
            continue formatLoop;
          }
          break simpleFormat;
      }
    }

    let r = argNumber(i);
    argNum = r.argNum;
    i = r.i;
    afterIndex = r.found;

    if (i < end && format[i] === '*') {
      i++;
      const w = intFromArg(args, argNum);
      f.wid = w.num;
      f.widPresent = w.isInt;
      argNum = w.argNum;
      if (!f.widPresent) p.buf += '%!(BADWIDTH)';
      if (f.wid < 0) {
        f.wid = -f.wid;
        f.minus = true;
        f.zero = false;
      }
      afterIndex = false;
    } else {
      const w = parsenum(format, i, end);
      f.wid = w.num;
      f.widPresent = w.isnum;
      i = w.next;
      if (afterIndex && f.widPresent) goodArgNum = false;
    }

    if (i + 1 < end && format[i] === '.') {
      i++;
      if (afterIndex) goodArgNum = false;
      r = argNumber(i);
      argNum = r.argNum;
      i = r.i;
      afterIndex = r.found;
      if (i < end && format[i] === '*') {
        i++;
        const pr = intFromArg(args, argNum);
        f.prec = pr.num;
        f.precPresent = pr.isInt;
        argNum = pr.argNum;
        if (f.prec < 0) {
          f.prec = 0;
          f.precPresent = false;
        }
        if (!f.precPresent) p.buf += '%!(BADPREC)';
        afterIndex = false;
      } else {
        const pr = parsenum(format, i, end);
        f.prec = pr.num;
        f.precPresent = true;
        i = pr.next;
      }
    }

    if (!afterIndex) {
      r = argNumber(i);
      argNum = r.argNum;
      i = r.i;
      afterIndex = r.found;
    }

    if (i >= end) {
      p.buf += '%!(NOVERB)';
      break;
    }
    const verb = String.fromCodePoint(format.codePointAt(i) as number);
    i += verb.length;
    if (verb === '%') p.buf += '%';
    else if (!goodArgNum) p.buf += `%!${verb}(BADINDEX)`;
    else if (argNum >= args.length) p.buf += `%!${verb}(MISSING)`;
    else {
      if (verb === 'v') {
        f.sharpV = f.sharp;
        f.sharp = false;
        f.plusV = f.plus;
        f.plus = false;
      }
      p.printArg(args[argNum], verb);
      argNum++;
    }
  }

  if (!reordered && argNum < args.length) {
    p.f = cleared();
    p.buf += '%!(EXTRA ';
    args.slice(argNum).forEach((arg, n) => {
      if (n > 0) p.buf += ', ';
      if (arg === null || arg === undefined) p.buf += '<nil>';
      else {
        p.buf += `${typeName(arg)}=`;
        p.printArg(arg, 'v');
      }
    });
    p.buf += ')';
  }
  return p.buf;
}
