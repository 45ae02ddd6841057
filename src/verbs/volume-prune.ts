/**
 * `hutch volume prune [--filter K=V]…`: removes every volume no container
 * uses; returns their names. confirm, when given, is asked first with the
 * names of the volumes that would go; false leaves them (undefined comes back).
 */
import { listVolumes, pruneVolumes } from '../run/volumes.js';
import { openVolumes } from './volume-users.js';

export async function volumePrune(options: {
  filters: readonly string[];
  confirm?: (unused: string[]) => Promise<boolean>;
}): Promise<string[] | undefined> {
  const { storage, usedBy } = await openVolumes();
  if (options.confirm !== undefined) {
    const unused = listVolumes(storage, { filters: options.filters, usedBy })
      .filter((v) => usedBy(v.Name).length === 0)
      .map((v) => v.Name);
    if (!(await options.confirm(unused))) return undefined;
  }
  return pruneVolumes(storage, { filters: options.filters, usedBy });
}
