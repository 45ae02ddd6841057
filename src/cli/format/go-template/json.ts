// Go's encoding/json as podman's `json` template function runs it: an Encoder with HTML escaping
// off, its trailing newline trimmed. Compact; maps with sorted keys, structs in field order;
// floats as Go writes them (1e+21, 1e-7, -0); times in RFC 3339 with nanoseconds.
import { formatFloat } from './fmt.js';
import { entriesOf, kindOf, numberOf } from './values.js';

class UnsupportedValue extends Error {}

/** RFC 3339 with the fraction trimmed of zeros, as Go's time.Time marshals. */
function rfc3339(d: Date): string {
  const iso = d.toISOString();
  return `${iso.slice(0, 19)}${iso.slice(19, 23).replace(/\.?0+$/, '')}Z`;
}

function encodeString(s: string): string {
  let out = '"';
  for (const c of s) {
    const r = c.codePointAt(0) as number;
    if (c === '"' || c === '\\') out += `\\${c}`;
    else if (c === '\n') out += '\\n';
    else if (c === '\r') out += '\\r';
    else if (c === '\t') out += '\\t';
    else if (r < 0x20) out += `\\u00${r.toString(16).padStart(2, '0')}`;
    else if (r === 0x2028 || r === 0x2029) out += `\\u${r.toString(16)}`;
    else if (r >= 0xd800 && r <= 0xdfff) out += '\\ufffd';
    else out += c;
  }
  return `${out}"`;
}

function encodeFloat(v: number): string {
  if (!Number.isFinite(v)) throw new UnsupportedValue();
  const abs = Math.abs(v);
  const fmt = abs !== 0 && (abs < 1e-6 || abs >= 1e21) ? 'e' : 'f';
  // Go writes e-07 as e-7.
  return formatFloat(v, fmt, -1).replace(/e-0(\d)$/, 'e-$1');
}

function encode(v: unknown): string {
  switch (kindOf(v)) {
    case 'invalid':
    case 'nil':
      return 'null';
    case 'bool':
      return v ? 'true' : 'false';
    case 'int': {
      const n = numberOf(v);
      return Math.abs(n) < 2 ** 63 ? BigInt(n).toString() : encodeFloat(n);
    }
    case 'float':
      return encodeFloat(numberOf(v));
    case 'string':
      return encodeString(v as string);
    case 'time':
      return encodeString(rfc3339(v as Date));
    case 'func':
      throw new UnsupportedValue();
    case 'slice':
      return `[${(v as unknown[]).map(encode).join(',')}]`;
    case 'map':
    case 'struct':
      return `{${entriesOf(v as object)
        .filter(([, value]) => typeof value !== 'function')
        .map(([key, value]) => `${encodeString(key)}:${encode(value)}`)
        .join(',')}}`;
  }
}

/** What podman's `json` function prints for a value; "" where Go's encoder fails (NaN, a function). */
export function goJson(v: unknown): string {
  try {
    return encode(v);
  } catch (error) {
    if (error instanceof UnsupportedValue) return '';
    throw error;
  }
}
