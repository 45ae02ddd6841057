// How Go's text/template and fmt see the JavaScript values hutch's verbs return: the kind of each
// value, the type name Go would print for it, its truth, and the zero value a map lookup yields.
//
// JavaScript has no static types, so the Go type is read off the value: an integral number is an
// int, any other number a float64, an array a slice, a Date a time.Time. A plain object is a Go
// struct when it was declared one (the rows a verb renders) or when every key is an exported Go
// field name; otherwise it is a map[string]T. undefined is Go's invalid value (what a missing map
// key gives, printed `<no value>`), null is a nil pointer, slice or map (printed `<nil>`).

/** A float64 that Go keeps a float even when it is integral: template literals like `1.0` or `1e6`. */
export class GoFloat {
  constructor(readonly value: number) {}
}

export type Kind =
  'invalid' | 'nil' | 'bool' | 'int' | 'float' | 'string' | 'slice' | 'map' | 'struct' | 'time' | 'func';

type Declared = { kind: 'struct'; type: string } | { kind: 'map' };
const declared = new WeakMap<object, Declared>();

/**
 * Declares an object a Go struct of the named type: a field it lacks is an error naming the type
 * (podman's rows are structs), it prints as `{a b}` and encodes to JSON in its key order.
 */
export function declareStruct<T extends object>(value: T, type: string): T {
  declared.set(value, { kind: 'struct', type });
  return value;
}

/** Declares an object a Go map whatever its keys: it prints as `map[k:v]`, sorted. */
export function declareMap<T extends object>(value: T): T {
  declared.set(value, { kind: 'map' });
  return value;
}

/** The struct type an object was declared with, if any. */
export function declaredStruct(value: object): string | undefined {
  const d = declared.get(value);
  return d?.kind === 'struct' ? d.type : undefined;
}

const EXPORTED_FIELD = /^[A-Z][A-Za-z0-9_]*$/;

function isStruct(value: object): boolean {
  const d = declared.get(value);
  if (d !== undefined) return d.kind === 'struct';
  const keys = Object.keys(value);
  return keys.length > 0 && keys.every((k) => EXPORTED_FIELD.test(k));
}

export function kindOf(v: unknown): Kind {
  if (v === undefined) return 'invalid';
  if (v === null) return 'nil';
  switch (typeof v) {
    case 'boolean':
      return 'bool';
    case 'number':
      return Number.isInteger(v) ? 'int' : 'float';
    case 'bigint':
      return 'int';
    case 'string':
      return 'string';
    case 'function':
      return 'func';
    default:
      break;
  }
  if (v instanceof GoFloat) return 'float';
  if (Array.isArray(v)) return 'slice';
  if (v instanceof Date) return 'time';
  return isStruct(v as object) ? 'struct' : 'map';
}

/** The numeric value of an int or float. */
export function numberOf(v: unknown): number {
  return v instanceof GoFloat ? v.value : Number(v);
}

function commonType(values: unknown[]): string {
  const names = new Set(values.map(typeName));
  const [only] = names;
  return names.size === 1 && only !== undefined ? only : 'interface {}';
}

/** The Go type name of a value, as fmt's %T and the template's error messages print it. */
export function typeName(v: unknown): string {
  switch (kindOf(v)) {
    case 'invalid':
    case 'nil':
      return '<nil>';
    case 'bool':
      return 'bool';
    case 'int':
      return 'int';
    case 'float':
      return 'float64';
    case 'string':
      return 'string';
    case 'func':
      return 'func()';
    case 'time':
      return 'time.Time';
    case 'slice':
      return `[]${commonType(v as unknown[])}`;
    case 'map':
      return `map[string]${commonType(Object.values(v as object))}`;
    case 'struct':
      return declaredStruct(v as object) ?? 'struct';
  }
}

/** The entries of a map or struct: a map's sorted by key as Go's fmt and range sort them, a struct's in order. */
export function entriesOf(v: object): [string, unknown][] {
  const entries = Object.entries(v).filter(([, value]) => value !== undefined);
  if (kindOf(v) === 'struct') return entries;
  return entries.sort(([a], [b]) => compareStrings(a, b));
}

/** Go compares strings byte by byte in UTF-8. */
export function compareStrings(a: string, b: string): number {
  if (a === b) return 0;
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/** Go's truth: false, 0, nil and empty strings, slices and maps are false; structs are true. */
export function isTrue(v: unknown): boolean {
  switch (kindOf(v)) {
    case 'invalid':
    case 'nil':
      return false;
    case 'bool':
      return v as boolean;
    case 'int':
    case 'float':
      return numberOf(v) !== 0;
    case 'string':
      return (v as string).length > 0;
    case 'slice':
      return (v as unknown[]).length > 0;
    case 'map':
      return Object.keys(v as object).length > 0;
    default:
      return true;
  }
}

/**
 * What Go's index gives for a key a map lacks: the zero value of its element type, read off the
 * values it has (a map of strings gives "", the common case of labels and annotations; an empty map
 * is taken for one), or invalid when the elements have no single type.
 */
export function zeroElement(map: object): unknown {
  const values = Object.values(map);
  if (values.every((v) => typeof v === 'string')) return '';
  const kinds = new Set(values.map(kindOf));
  if (kinds.size !== 1) return undefined;
  if (kinds.has('int')) return 0;
  if (kinds.has('float')) return new GoFloat(0);
  if (kinds.has('bool')) return false;
  return undefined;
}

/** UTF-8 bytes, as Go's len, index and slice count them on strings. */
export function bytesOf(s: string): Buffer {
  return Buffer.from(s, 'utf8');
}
