// The functions a podman --format template may call: text/template's builtins (and, or, not, len,
// index, slice, print, printf, println, eq, ne, lt, le, gt, ge, html, js, urlquery, call) and the
// ones containers/common's report package adds (join, json, lower, pad, split, title, truncate,
// upper). Each declares Go's parameter types: the executor checks arguments against them as Go
// does, and a function's failure reads `error calling NAME: …`.
import { sprint, sprintf, sprintln } from './fmt.js';
import { goJson } from './json.js';
import {
  bytesOf,
  compareStrings,
  declaredStruct,
  isTrue,
  kindOf,
  numberOf,
  typeName,
  zeroElement,
  type Kind,
} from './values.js';

/**
 * A parameter's Go type: `value` is reflect.Value (anything, even no value), `any` is interface{}
 * (no value arrives as nil), the others as named.
 */
export type ParamType = 'string' | 'int' | 'bool' | '[]string' | 'any' | 'value';

export interface GoFunc {
  params: ParamType[];
  /** The element type of a final ...T parameter. */
  variadic?: ParamType;
  call(args: unknown[]): unknown;
}

/** What a function returns as its error: the executor prints `error calling NAME: message`. */
export class CallError extends Error {}

/** Go's simple case mapping: a character whose mapping is not a single character stays as it is. */
function mapCase(s: string, upper: boolean): string {
  return [...s]
    .map((c) => {
      const m = upper ? c.toUpperCase() : c.toLowerCase();
      return [...m].length === 1 ? m : c;
    })
    .join('');
}

/** strings.Title's word boundary: ASCII other than letters, digits and _, or a space. */
function isSeparator(c: string): boolean {
  if ((c.codePointAt(0) as number) <= 0x7f) return !/[0-9a-zA-Z_]/.test(c);
  return !/[\p{L}\p{Nd}]/u.test(c) && /\s/u.test(c);
}

/** strings.Title: the first letter of each word in title case. */
function title(s: string): string {
  let prev = ' ';
  return [...s]
    .map((c) => {
      const first = isSeparator(prev);
      prev = c;
      return first ? mapCase(c, true) : c;
    })
    .join('');
}

function repeat(s: string, count: number): string {
  if (count < 0) throw new CallError('strings: negative Repeat count');
  return s.repeat(count);
}

function byteLength(s: string): number {
  return bytesOf(s).length;
}

/** Output that escapes a function's arguments: one string as is, else Sprint with no value for nil. */
function evalArgs(args: unknown[]): string {
  if (args.length === 1 && typeof args[0] === 'string') return args[0];
  return sprint(args.map((a) => (a === null || a === undefined ? '<no value>' : a)));
}

function htmlEscape(s: string): string {
  const map: Record<string, string> = {
    '"': '&#34;',
    "'": '&#39;',
    '&': '&amp;',
    '<': '&lt;',
    '>': '&gt;',
    '\0': '\uFFFD',
  };
  return s.replace(/["'&<>\0]/g, (c) => map[c] as string);
}

const PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u;

function jsEscape(s: string): string {
  const map: Record<string, string> = {
    '\\': '\\\\',
    "'": "\\'",
    '"': '\\"',
    '<': '\\u003C',
    '>': '\\u003E',
    '&': '\\u0026',
    '=': '\\u003D',
  };
  let out = '';
  for (const c of s) {
    const r = c.codePointAt(0) as number;
    if (map[c] !== undefined) out += map[c];
    else if (r < 0x20) out += `\\u00${r.toString(16).toUpperCase().padStart(2, '0')}`;
    else if (r < 0x80 || PRINTABLE.test(c)) out += c;
    else out += `\\u${r.toString(16).toUpperCase().padStart(4, '0')}`;
  }
  return out;
}

/** url.QueryEscape: letters, digits and -_.~ stay, a space is +, every other byte %XX. */
function queryEscape(s: string): string {
  let out = '';
  for (const byte of bytesOf(s)) {
    const c = String.fromCharCode(byte);
    if (/[A-Za-z0-9\-_.~]/.test(c)) out += c;
    else if (c === ' ') out += '+';
    else out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

function indexArg(index: unknown, cap: number): number {
  const kind = kindOf(index);
  if (kind === 'invalid' || kind === 'nil') throw new CallError('cannot index slice/array with nil');
  if (kind !== 'int') throw new CallError(`cannot index slice/array with type ${typeName(index)}`);
  const x = numberOf(index);
  if (x < 0 || x > cap) throw new CallError(`index out of range: ${x}`);
  return x;
}

/** A plain object that index, len and range treat as a map (a declared struct is not one). */
const isMapLike = (v: unknown): v is Record<string, unknown> =>
  (kindOf(v) === 'map' || kindOf(v) === 'struct') && declaredStruct(v as object) === undefined;

function index(args: unknown[]): unknown {
  let [item] = args;
  if (item === undefined) throw new CallError('index of untyped nil');
  for (const key of args.slice(1)) {
    if (item === null) {
      // A nil map gives its zero value, a nil slice has no element.
      if (typeof key === 'string') return '';
      throw new CallError(`index out of range: ${indexArg(key, 0)}`);
    }
    if (typeof item === 'string') {
      const bytes = bytesOf(item);
      const x = indexArg(key, bytes.length);
      if (x === bytes.length) throw new CallError(`index out of range: ${x}`);
      item = bytes[x];
    } else if (Array.isArray(item)) {
      const x = indexArg(key, item.length);
      if (x === item.length) throw new CallError(`index out of range: ${x}`);
      item = item[x];
    } else if (isMapLike(item)) {
      if (key === undefined || key === null) throw new CallError('value is nil; should be of type string');
      if (typeof key !== 'string') throw new CallError(`value has type ${typeName(key)}; should be string`);
      item = Object.hasOwn(item, key) ? item[key] : zeroElement(item);
    } else throw new CallError(`can't index item of type ${typeName(item)}`);
  }
  return item;
}

function slice(args: unknown[]): unknown {
  const [item, ...indexes] = args;
  if (item === undefined) throw new CallError('slice of untyped nil');
  if (indexes.length > 3) throw new CallError(`too many slice indexes: ${indexes.length}`);
  let length: number;
  if (typeof item === 'string') {
    if (indexes.length === 3) throw new CallError('cannot 3-index slice a string');
    length = byteLength(item);
  } else if (Array.isArray(item)) length = item.length;
  else if (item === null) length = 0;
  else throw new CallError(`can't slice item of type ${typeName(item)}`);
  const idx = [0, length, length];
  indexes.forEach((x, i) => {
    idx[i] = indexArg(x, length);
  });
  const [i, j, k] = idx as [number, number, number];
  if (i > j) throw new CallError(`invalid slice index: ${i} > ${j}`);
  if (indexes.length === 3 && j > k) throw new CallError(`invalid slice index: ${j} > ${k}`);
  if (typeof item === 'string') return bytesOf(item).subarray(i, j).toString('utf8');
  return (item ?? []).slice(i, j);
}

function length(item: unknown): number {
  if (item === undefined) throw new CallError('reflect: call of reflect.Value.Type on zero Value');
  if (item === null) return 0;
  if (typeof item === 'string') return byteLength(item);
  if (Array.isArray(item)) return item.length;
  if (isMapLike(item)) return Object.keys(item).length;
  throw new CallError(`len of type ${typeName(item)}`);
}

type BasicKind = 'bool' | 'int' | 'float' | 'string' | 'other';

function basicKind(v: unknown): BasicKind {
  const kind: Kind = kindOf(v);
  return kind === 'bool' || kind === 'int' || kind === 'float' || kind === 'string' ? kind : 'other';
}

function comparable(v: unknown): boolean {
  switch (kindOf(v)) {
    case 'slice':
    case 'map':
    case 'func':
      return false;
    case 'struct':
      return Object.values(v as object).every(comparable);
    default:
      return true;
  }
}

function sameValue(a: unknown, b: unknown): boolean {
  if (a instanceof Date && b instanceof Date) return a.getTime() === b.getTime();
  if (kindOf(a) === 'struct' && kindOf(b) === 'struct') {
    const ka = Object.keys(a as object);
    return (
      ka.length === Object.keys(b as object).length &&
      ka.every((k) => sameValue((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]))
    );
  }
  if (basicKind(a) !== 'other' && basicKind(a) === basicKind(b)) return numberOrString(a) === numberOrString(b);
  return a === b;
}

const numberOrString = (v: unknown): unknown => (typeof v === 'string' || typeof v === 'boolean' ? v : numberOf(v));
const isNil = (v: unknown): boolean => v === undefined || v === null;

function eq(args: unknown[]): boolean {
  const [arg1, ...rest] = args;
  if (rest.length === 0) throw new CallError('missing argument for comparison');
  const k1 = basicKind(arg1);
  for (const arg of rest) {
    const k2 = basicKind(arg);
    let truth: boolean;
    if (k1 !== k2) {
      if (arg1 !== undefined && arg !== undefined) throw new CallError('incompatible types for comparison');
      truth = false;
    } else if (k1 !== 'other') truth = numberOrString(arg1) === numberOrString(arg);
    else {
      const g1 = kindOf(arg1);
      const g2 = kindOf(arg);
      if (g1 !== g2 && !isNil(arg1) && !isNil(arg)) {
        throw new CallError(
          `non-comparable types ${sprint([arg1])}: ${typeName(arg1)}, ${typeName(arg)}: ${sprint([arg])}`,
        );
      }
      if (isNil(arg1) || isNil(arg)) truth = isNil(arg1) === isNil(arg);
      else {
        if (!comparable(arg)) throw new CallError(`non-comparable type ${sprint([arg])}: ${typeName(arg)}`);
        truth = sameValue(arg1, arg);
      }
    }
    if (truth) return true;
  }
  return false;
}

function lt(args: unknown[]): boolean {
  const [a, b] = args;
  const k1 = basicKind(a);
  const k2 = basicKind(b);
  if (k1 === 'other' || k2 === 'other') throw new CallError('invalid type for comparison');
  if (k1 !== k2) throw new CallError('incompatible types for comparison');
  if (k1 === 'bool') throw new CallError('invalid type for comparison');
  if (k1 === 'string') return compareStrings(a as string, b as string) < 0;
  return numberOf(a) < numberOf(b);
}

const le = (args: unknown[]): boolean => lt(args) || eq(args);

function callFunction(args: unknown[]): unknown {
  const [fn, ...rest] = args;
  if (isNil(fn)) throw new CallError('call of nil');
  if (typeof fn !== 'function') throw new CallError(`non-function of type ${typeName(fn)}`);
  return (fn as (...a: unknown[]) => unknown)(...rest);
}

const comparison = (fn: (args: unknown[]) => boolean): GoFunc => ({ params: ['value', 'value'], call: fn });
const stringFn = (fn: (s: string) => string): GoFunc => ({ params: ['string'], call: ([s]) => fn(s as string) });
const escaper = (fn: (s: string) => string): GoFunc => ({ params: [], variadic: 'any', call: (a) => fn(evalArgs(a)) });

/** and and or evaluate their arguments lazily; the executor runs them itself. */
export const SHORT_CIRCUIT = new Set(['and', 'or']);

export const FUNCS: ReadonlyMap<string, GoFunc> = new Map<string, GoFunc>([
  // text/template
  ['and', { params: ['value'], variadic: 'value', call: (a) => a.find((v) => !isTrue(v)) ?? a.at(-1) }],
  ['or', { params: ['value'], variadic: 'value', call: (a) => a.find((v) => isTrue(v)) ?? a.at(-1) }],
  ['not', { params: ['value'], call: ([v]) => !isTrue(v) }],
  ['len', { params: ['value'], call: ([v]) => length(v) }],
  ['index', { params: ['value'], variadic: 'value', call: index }],
  ['slice', { params: ['value'], variadic: 'value', call: slice }],
  ['call', { params: ['value'], variadic: 'value', call: callFunction }],
  ['print', { params: [], variadic: 'any', call: (a) => sprint(a) }],
  ['printf', { params: ['string'], variadic: 'any', call: ([f, ...a]) => sprintf(f as string, a) }],
  ['println', { params: [], variadic: 'any', call: (a) => sprintln(a) }],
  ['html', escaper(htmlEscape)],
  ['js', escaper(jsEscape)],
  ['urlquery', escaper(queryEscape)],
  ['eq', { params: ['value'], variadic: 'value', call: eq }],
  ['ne', comparison((a) => !eq(a))],
  ['lt', comparison(lt)],
  ['le', comparison(le)],
  ['gt', comparison((a) => !le(a))],
  ['ge', comparison((a) => !lt(a))],
  // containers/common pkg/report
  ['join', { params: ['[]string', 'string'], call: ([list, sep]) => (list as string[]).join(sep as string) }],
  ['json', { params: ['any'], call: ([v]) => goJson(v) }],
  ['lower', stringFn((s) => mapCase(s, false))],
  ['upper', stringFn((s) => mapCase(s, true))],
  ['title', stringFn(title)],
  [
    'pad',
    {
      params: ['string', 'int', 'int'],
      call: ([s, prefix, suffix]) =>
        s === '' ? '' : repeat(' ', prefix as number) + (s as string) + repeat(' ', suffix as number),
    },
  ],
  [
    'split',
    {
      params: ['string', 'string'],
      call: ([s, sep]) => (sep === '' ? [...(s as string)] : (s as string).split(sep as string)),
    },
  ],
  [
    'truncate',
    {
      params: ['string', 'int'],
      call: ([s, n]) => {
        const bytes = bytesOf(s as string);
        const max = n as number;
        if (bytes.length < max) return s;
        if (max < 0) throw new CallError(`runtime error: slice bounds out of range [:${max}]`);
        return bytes.subarray(0, max).toString('utf8');
      },
    },
  ],
]);
