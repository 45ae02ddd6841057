/** Sizes as podman's flags take them, shared by every flag and setting that reads one. */
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
