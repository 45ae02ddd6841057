/**
 * `--volumes-from CTR[:OPTS]`: the binds and named volumes of another
 * container, at the same destinations, as podman copies them (its tmpfs
 * mounts are not shared: a warning says so). OPTS: ro or rw (every copied
 * mount), z (accepted, no SELinux here). A -v, --mount or --tmpfs of the new
 * container at the same destination wins.
 */
import { HutchError } from '../../errors.js';
import type { MountSpec } from './spec.js';
import type { ContainerStore } from './store.js';

export interface VolumesFrom {
  container: string;
  /** ro: true, rw: false, neither: as the other container has them. */
  readonly: boolean | undefined;
}

export function parseVolumesFrom(value: string): VolumesFrom {
  const colon = value.indexOf(':');
  const container = colon < 0 ? value : value.slice(0, colon);
  if (container === '') throw new HutchError(`invalid --volumes-from ${JSON.stringify(value)}: no container named`);
  let readonly: boolean | undefined;
  for (const option of colon < 0 ? [] : value.slice(colon + 1).split(',')) {
    if (option === 'ro') readonly = true;
    else if (option === 'rw') readonly = false;
    else if (option !== 'z') {
      throw new HutchError(
        `invalid option "${option}" specified - volumes from another container can only use z,ro,rw options`,
      );
    }
  }
  return { container, readonly };
}

/** The mounts the new container takes from others; destinations in `own` are left out. */
export function volumesFromMounts(
  containers: ContainerStore,
  values: readonly string[],
  own: ReadonlySet<string>,
  onWarning: (message: string) => void,
): MountSpec[] {
  const taken = new Set(own);
  const mounts: MountSpec[] = [];
  for (const value of values) {
    const { container: name, readonly } = parseVolumesFrom(value);
    let source;
    try {
      source = containers.find(name);
    } catch (error) {
      throw new HutchError(`looking up container "${name}" for volumes-from: ${(error as Error).message}`);
    }
    for (const mount of source.config.options.mounts) {
      if (mount.type === 'tmpfs') {
        onWarning(`Unable to match volume ${mount.destination} from container ${source.config.id} for volumes-from`);
        continue;
      }
      if (taken.has(mount.destination)) continue;
      taken.add(mount.destination);
      mounts.push(readonly === undefined ? mount : { ...mount, readonly });
    }
  }
  return mounts;
}
