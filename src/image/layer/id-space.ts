/**
 * The owners a layer's files may have here: the ids of this process's user
 * namespace (/proc/self/uid_map and gid_map), and the error, with the fix,
 * for an owner the namespace does not map (lchown(2) would fail with EINVAL).
 */
import { readFileSync } from 'node:fs';
import { HutchError } from '../../errors.js';
import { parseIdMap } from '../../host/identity.js';

export interface IdSpace {
  /** The id ranges inside the namespace, or undefined outside any (all ids usable). */
  ranges: { start: number; count: number }[] | undefined;
  count: number;
}

export function readIdSpace(file: string): IdSpace {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return { ranges: undefined, count: 2 ** 32 };
  }
  const lines = parseIdMap(text);
  if (lines.some((l) => l.inside === 0 && l.outside === 0 && l.count === 4294967295)) {
    return { ranges: undefined, count: 2 ** 32 };
  }
  return {
    ranges: lines.map((l) => ({ start: l.inside, count: l.count })),
    count: lines.reduce((sum, l) => sum + l.count, 0),
  };
}

export function mapped(space: IdSpace, id: number): boolean {
  if (space.ranges === undefined) return true;
  for (const r of space.ranges) if (id >= r.start && id < r.start + r.count) return true;
  return false;
}

export function unmappedOwner(rel: string, kind: 'uid' | 'gid', id: number, space: IdSpace): HutchError {
  const restart = 'then stop the session so the next command maps them: pkill -u "$USER" -x hutch-session';
  if (space.count <= 1) {
    return new HutchError(`layer file ${rel} is owned by ${kind} ${id}, but your user namespace maps only id 0 (you)`, {
      hint:
        'your user has no subordinate ids: give it a range in /etc/subuid and /etc/subgid ' +
        `(sudo usermod --add-subuids 100000-165535 --add-subgids 100000-165535 "$USER"), ${restart}`,
    });
  }
  return new HutchError(
    `layer file ${rel} is owned by ${kind} ${id}, beyond the ${space.count} ids your user namespace maps`,
    {
      hint:
        `give your user more subordinate ids in /etc/subuid and /etc/subgid, at least ${id} ` +
        `(sudo usermod --add-subuids FIRST-LAST --add-subgids FIRST-LAST "$USER"), ${restart}`,
    },
  );
}
