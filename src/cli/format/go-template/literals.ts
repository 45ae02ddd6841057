// The literals of a template action, read as Go's strconv reads them: quoted and raw strings,
// character constants, and numbers (0x1F, 0o17, 0b101, 1_000, 1e3, 0x1p-2, .5).

/** strconv's ErrSyntax, which the parser reports as `invalid syntax`. */
export class SyntaxError extends Error {
  constructor() {
    super('invalid syntax');
  }
}

const HEX = /^[0-9a-fA-F]+$/;

/** strconv.UnquoteChar: the first character of s (maybe an escape) and the rest. */
export function unquoteChar(s: string, q: string): { value: number; tail: string } {
  const c = s[0];
  if (c === undefined || c === q) throw new SyntaxError();
  if (c !== '\\') {
    const r = s.codePointAt(0) as number;
    return { value: r, tail: s.slice(String.fromCodePoint(r).length) };
  }
  const e = s[1];
  let rest = s.slice(2);
  const simple: Record<string, number> = { a: 7, b: 8, f: 12, n: 10, r: 13, t: 9, v: 11, '\\': 92 };
  if (e === undefined) throw new SyntaxError();
  if (simple[e] !== undefined) return { value: simple[e], tail: rest };
  if (e === 'x' || e === 'u' || e === 'U') {
    const n = e === 'x' ? 2 : e === 'u' ? 4 : 8;
    const digits = rest.slice(0, n);
    if (digits.length < n || !HEX.test(digits)) throw new SyntaxError();
    const value = parseInt(digits, 16);
    if (e !== 'x' && (value > 0x10ffff || (value >= 0xd800 && value <= 0xdfff))) throw new SyntaxError();
    return { value, tail: rest.slice(n) };
  }
  if (e >= '0' && e <= '7') {
    const digits = e + rest.slice(0, 2);
    if (!/^[0-7]{3}$/.test(digits)) throw new SyntaxError();
    const value = parseInt(digits, 8);
    if (value > 255) throw new SyntaxError();
    rest = rest.slice(2);
    return { value, tail: rest };
  }
  if ((e === "'" || e === '"') && e === q) return { value: e.charCodeAt(0), tail: rest };
  throw new SyntaxError();
}

/** strconv.Unquote of a "quoted" or `raw` string token. */
export function unquote(token: string): string {
  const q = token[0];
  if (token.length < 2 || token.at(-1) !== q) throw new SyntaxError();
  const body = token.slice(1, -1);
  if (q === '`') {
    if (body.includes('`')) throw new SyntaxError();
    return body.replace(/\r/g, '');
  }
  if (q !== '"' || body.includes('\n')) throw new SyntaxError();
  let out = '';
  let rest = body;
  while (rest.length > 0) {
    const { value, tail } = unquoteChar(rest, q);
    out += String.fromCodePoint(value);
    rest = tail;
  }
  return out;
}

/** Go's digit separators: an underscore only between digits, or between a base prefix and a digit. */
function underscoresOk(s: string): boolean {
  let body = s.replace(/^[+-]/, '');
  // '^' at the start, '0' after a digit or base prefix, '_' after an underscore, '!' after anything else.
  let saw = '^';
  let hex = false;
  if (/^0[bBoOxX]/.test(body)) {
    saw = '0';
    hex = /^0[xX]/.test(body);
    body = body.slice(2);
  }
  for (const c of body) {
    if ((c >= '0' && c <= '9') || (hex && /[a-fA-F]/.test(c))) saw = '0';
    else if (c === '_') {
      if (saw !== '0') return false;
      saw = '_';
    } else {
      if (saw === '_') return false;
      saw = '!';
    }
  }
  return saw !== '_';
}

/** An integer literal in Go's base-0 syntax (strconv.ParseInt(s, 0, …) without the range check), or undefined. */
export function parseInteger(s: string): bigint | undefined {
  if (!underscoresOk(s)) return undefined;
  const m = /^([+-]?)(0[xX][0-9a-fA-F_]+|0[bB][01_]+|0[oO][0-7_]+|0[0-7_]*|[1-9][0-9_]*)$/.exec(s);
  if (m === null) return undefined;
  const [, sign, digits] = m as unknown as [string, string, string];
  const clean = digits.replace(/_/g, '');
  let value: bigint;
  if (/^0[xXbBoO]/.test(clean)) value = BigInt(clean.toLowerCase());
  else if (clean.length > 1 && clean.startsWith('0')) value = BigInt(`0o${clean.slice(1)}`);
  else value = BigInt(clean);
  return sign === '-' ? -value : value;
}

/** strconv.ParseFloat(s, 64), or undefined: decimal and hexadecimal (0x1.8p3) forms. */
export function parseFloat64(s: string): number | undefined {
  if (!underscoresOk(s)) return undefined;
  const clean = s.replace(/_/g, '');
  const hex = /^([+-]?)0[xX]([0-9a-fA-F]*)(?:\.([0-9a-fA-F]*))?[pP]([+-]?[0-9]+)$/.exec(clean);
  if (hex !== null) {
    const [, sign, int = '', frac = '', exp] = hex as unknown as [
      string,
      string,
      string | undefined,
      string | undefined,
      string,
    ];
    if (int === '' && frac === '') return undefined;
    const mantissa = parseInt(int === '' ? '0' : int, 16) + (frac === '' ? 0 : parseInt(frac, 16) / 16 ** frac.length);
    const value = mantissa * 2 ** Number(exp);
    return sign === '-' ? -value : value;
  }
  if (!/^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$/.test(clean)) return undefined;
  return Number(clean);
}
