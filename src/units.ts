/** Sizes and durations as podman's flags take them, shared by every flag and setting that reads one. */
import { HutchError } from './errors.js';

const UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 };

/**
 * A size as docker's units.RAMInBytes reads it (--memory, --shm-size, …): a
 * number, maybe fractional, then an optional unit b, k, m, g, t or p (any
 * case, with an optional i and b: 32m, 32MB, 32MiB), all binary. Whole bytes;
 * throws naming what was being read.
 */
export function parseBytes(text: string, what: string): number {
  const match = /^(\d+(?:\.\d+)?) ?(?:([kmgtp])i?)?b?$/i.exec(text.trim());
  const bytes = match === null ? NaN : Math.floor(Number(match[1]) * (UNITS[match[2]?.toLowerCase() ?? ''] as number));
  if (!Number.isSafeInteger(bytes)) {
    throw new HutchError(`invalid ${what} ${JSON.stringify(text)}`, {
      hint: 'give a size: a number with an optional unit b, k, m or g (e.g. 512m, 1g)',
    });
  }
  return bytes;
}

const DURATION_UNITS: Record<string, number> = {
  ns: 1,
  us: 1e3,
  µs: 1e3,
  μs: 1e3,
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
};

/** Go's time.ParseDuration → nanoseconds (`1h30m`, `1.5s`, `300ms`). */
export function parseGoDuration(value: string, fail: (reason: string) => never): number {
  const bad = (): never => fail(`time: invalid duration ${JSON.stringify(value)}`);
  let s = value;
  let sign = 1;
  if (s.startsWith('-') || s.startsWith('+')) {
    if (s[0] === '-') sign = -1;
    s = s.slice(1);
  }
  if (s === '0') return 0;
  if (s === '') bad();
  let total = 0;
  const re = /^(\d*)(?:\.(\d*))?(ns|us|µs|μs|ms|s|m|h)/u;
  while (s !== '') {
    const m = re.exec(s);
    if (m === null || ((m[1] ?? '') === '' && (m[2] ?? '') === '')) {
      if (/^[\d.]+$/.test(s)) fail(`time: missing unit in duration ${JSON.stringify(value)}`);
      if (/^[\d.]+/.test(s))
        fail(`time: unknown unit ${JSON.stringify(s.replace(/^[\d.]+/, ''))} in duration ${JSON.stringify(value)}`);
      return bad();
    }
    const unit = DURATION_UNITS[m[3] as string] as number;
    const whole = Number(m[1] || '0');
    const frac = m[2] ? Number(`0.${m[2]}`) : 0;
    total += whole * unit + Math.round(frac * unit);
    s = s.slice(m[0].length);
  }
  return sign * total;
}
