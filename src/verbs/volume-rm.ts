/**
 * `hutch volume rm [-f] NAME…|--all`: each volume removed, its outcome as it
 * comes; with -f the containers that use it are removed first.
 */
import { listVolumes, removeVolume } from '../run/volumes.js';
import { eachName, type Outcome } from './outcomes.js';
import { openVolumes } from './volume-users.js';

export async function* volumeRemove(
  names: readonly string[],
  options: { all: boolean; force: boolean },
): AsyncGenerator<Outcome<void>, void, undefined> {
  const { storage, usedBy, removeUsers } = await openVolumes();
  const targets = options.all ? listVolumes(storage).map((v) => v.Name) : names;
  yield* eachName(targets, async (name) => {
    if (options.force && usedBy(name).length > 0) {
      await removeUsers(name);
    }
    await removeVolume(storage, name, { force: options.force, usedBy });
  });
}
