/**
 * `hutch volume inspect NAME…|--all`: the volumes as `hutch inspect --type
 * volume` finds them. With --all and no volume at all, `none` says so (podman
 * prints an empty array then, whatever --format says).
 */
import { listVolumes } from '../run/volumes.js';
import { inspect, type InspectResult } from './inspect.js';
import { openVolumes } from './volume-users.js';

export async function volumeInspect(
  names: readonly string[],
  options: { all: boolean },
): Promise<InspectResult | 'none'> {
  let targets = names;
  if (options.all) {
    const { storage } = await openVolumes();
    targets = listVolumes(storage).map((v) => v.Name);
    if (targets.length === 0) return 'none';
  }
  return inspect(targets, 'volume');
}
