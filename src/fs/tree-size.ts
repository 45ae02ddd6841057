/** How much a directory tree holds, as podman's ps --size counts a container's writable layer. */
import { lstatSync, readdirSync, type Stats } from 'node:fs';
import { join } from 'node:path';

/**
 * The apparent size of every regular file and symbolic link below dir, each
 * inode once (hard links are one file); directories and devices count 0. Never
 * follows a link; an entry gone meanwhile counts 0; a missing dir is 0.
 */
export function treeSize(dir: string): number {
  const seen = new Set<string>();
  let total = 0;
  const pending = [dir];
  while (pending.length > 0) {
    const current = pending.pop() as string;
    let names: string[];
    try {
      names = readdirSync(current);
    } catch {
      continue;
    }
    for (const name of names) {
      const path = join(current, name);
      let stat: Stats;
      try {
        stat = lstatSync(path);
      } catch {
        continue;
      }
      if (stat.isDirectory()) pending.push(path);
      else if (stat.isFile() || stat.isSymbolicLink()) {
        const key = `${stat.dev}:${stat.ino}`;
        if (stat.nlink > 1) {
          if (seen.has(key)) continue;
          seen.add(key);
        }
        total += stat.size;
      }
    }
  }
  return total;
}
