/**
 * The bytes a directory tree holds (what `du --apparent-size` counts): the
 * sizes of its files and symlinks, a hard-linked file once. A tree that
 * vanishes while it is walked counts what was seen.
 */
import { lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ifExists } from './missing.js';

export function treeSize(path: string): number {
  const seen = new Set<string>();
  let total = 0;
  const walk = (current: string) => {
    const st = ifExists(() => lstatSync(current, { bigint: false }));
    if (st === undefined) return;
    if (st.isDirectory()) {
      for (const name of ifExists(() => readdirSync(current)) ?? []) walk(join(current, name));
      return;
    }
    if (st.nlink > 1) {
      const key = `${st.dev}:${st.ino}`;
      if (seen.has(key)) return;
      seen.add(key);
    }
    total += st.size;
  };
  walk(path);
  return total;
}
